// The typed event stream: what each mode delivers, labels of tokens from items and sub-flows,
// a slow reader's bounded queue, the callback and the coroutine reader.
#include <actorflow/actorflow.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <map>
#include <mutex>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

constexpr int pieces_per_call = 50;

// FakePiecesProvider: answers "<prompt>:0 <prompt>:1 ..." streamed one piece per word, at once.
class FakePiecesProvider final : public ModelProvider {
public:
  std::string_view kind() const noexcept override { return "fake-pieces"; }
  std::string default_model() const override { return "pieces"; }
  void chat(ChatRequest request, ChatDone done) override {
    ChatResponse response;
    const auto prompt = request.prompt();
    for (int i = 0; i < pieces_per_call; ++i) {
      auto piece = prompt + ":" + std::to_string(i) + " ";
      if (request.on_token)
        request.on_token(piece);
      response.text += piece;
    }
    response.usage.completion_tokens = pieces_per_call;
    done(ModelOutcome<ChatResponse>(std::move(response)));
  }
  void embed(EmbedRequest, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(Error{Errc::bad_request, "no embeddings here"}));
  }
};

RuntimeConfig with_pieces() {
  auto config = two_workers();
  config.models.add("pieces", std::make_shared<FakePiecesProvider>());
  config.models.set_default("pieces");
  return config;
}

// A sub-flow whose one node asks the model for the prompt in "prompt".
Flow ask_flow() {
  auto node = lambda_node({.prep = [](const State& s) { return s.at("prompt"); },
                           .exec = [](Value prompt, Context& ctx) -> Task<Value> {
                             auto answer = co_await ctx.llm().chat(prompt.as_string());
                             co_return answer ? Value(answer->text) : Value("failed");
                           },
                           .post =
                               [](State& s, const Value&, const Value& text) {
                                 s = s.with("text", text);
                                 return std::string(default_action);
                               }});
  return must(FlowBuilder("ask").node("model", node).build());
}

// Twenty items; each runs the ask flow as a sub-flow (its tokens are labelled with the item).
class Summaries final : public ParallelBatchNode {
public:
  Summaries() : ParallelBatchNode(BatchOptions{.max_concurrency = 8}) {}
  Value prep(const State& state) override { return state.at("items"); }
  Task<Value> exec(Value item, Context& ctx) override {
    const Flow ask = ask_flow();
    auto prompt = State{}.with("prompt", "item" + std::to_string(item.as_int()));
    auto result = co_await ctx.run(ask, std::move(prompt));
    co_return result ? result->state.at("text") : Value("failed");
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    state = state.with("done", static_cast<std::int64_t>(result.items.size()));
    return std::string(default_action);
  }
};

State items(int n) {
  Array out;
  for (int i = 0; i < n; ++i)
    out.emplace_back(i);
  return State{}.with("items", Value(std::move(out)));
}

Flow summaries_flow() {
  return must(FlowBuilder("summaries")
                  .node("prepare", step_node([](State& s) {
                          s = s.with("stage", "ready");
                          return std::string(default_action);
                        }))
                  .node<Summaries>("summaries")
                  .edge("prepare", "summaries")
                  .build());
}

} // namespace

TEST_CASE("a slow reader: token pieces merge, nothing else is lost, the queue stays bounded") {
  Runtime runtime{with_pieces()};
  constexpr int n = 20;
  auto run =
      runtime.run(summaries_flow(), items(n), {.stream = StreamMode::tokens | StreamMode::items});
  auto events = run.events();
  must(run.get()); // the reader reads nothing until the run has ended
  auto stats = events.stats();
  // Per item: one token event (its 50 pieces merged) and its ItemFinished; plus the end.
  CHECK(stats.merged == static_cast<std::uint64_t>(n * (pieces_per_call - 1)));
  CHECK(stats.max_buffered <= static_cast<std::uint64_t>(2 * n + 1));
  CHECK(stats.buffered == stats.queued);

  std::map<std::size_t, std::string> text;
  std::size_t finished = 0;
  std::uint64_t last_seq = 0;
  bool ended = false;
  while (auto event = events.try_next()) {
    CHECK(event->seq > last_seq);
    last_seq = event->seq;
    if (auto* piece = std::get_if<TokenPiece>(&event->body)) {
      CHECK(event->node == "summaries/model"); // the sub-flow's node, inside the batch node
      REQUIRE(event->item.has_value());
      text[*event->item] += piece->text;
    }
    if (std::holds_alternative<ItemFinished>(event->body)) {
      CHECK(event->node == "summaries");
      ++finished;
    }
    ended = std::holds_alternative<RunFinished>(event->body);
  }
  CHECK(ended);
  CHECK(events.ended());
  CHECK_FALSE(events.next().has_value());
  CHECK(finished == n);
  REQUIRE(text.size() == n);
  for (const auto& [item, words] : text) { // every piece, in order, under its own item
    std::string expected;
    for (int i = 0; i < pieces_per_call; ++i)
      expected += "item" + std::to_string(item) + ":" + std::to_string(i) + " ";
    CHECK(words == expected);
  }
}

TEST_CASE("updates and values: what each node changed, and the State after it") {
  Runtime runtime{with_pieces()};
  auto flow = must(FlowBuilder("two")
                       .node("a", step_node([](State& s) {
                               s = s.with("x", 1).without("gone");
                               return std::string(default_action);
                             }))
                       .node("b", step_node([](State& s) {
                               s = s.with("y", 2).with("x", 1); // x rewritten with the same value
                               return std::string("done");
                             }))
                       .edge("a", "b")
                       .build());
  auto run = runtime.run(flow, State{}.with("gone", true).with("kept", "k"),
                         {.stream = StreamMode::updates | StreamMode::values});
  auto events = run.events();
  std::vector<RunEvent> finished;
  while (auto event = events.next())
    if (std::holds_alternative<NodeFinished>(event->body))
      finished.push_back(*event);
  REQUIRE(finished.size() == 2);
  const auto& a = std::get<NodeFinished>(finished[0].body);
  CHECK(finished[0].node == "a");
  CHECK(a.changes == Map{{"gone", Value{}}, {"x", Value(1)}});
  REQUIRE(a.state.has_value());
  CHECK(a.state->keys() == std::vector<std::string>{"kept", "x"});
  const auto& b = std::get<NodeFinished>(finished[1].body);
  CHECK(b.action == "done");
  CHECK(b.changes == Map{{"y", Value(2)}});
}

TEST_CASE("debug streams node starts, a run without modes streams only its end") {
  Runtime runtime{with_pieces()};
  auto flow = must(FlowBuilder("one")
                       .node("only", step_node([](State&) { return std::string(default_action); }))
                       .build());
  SUBCASE("debug") {
    auto run = runtime.run(flow, {}, {.stream = StreamMode::debug});
    auto events = run.events();
    std::vector<std::string> kinds;
    while (auto event = events.next())
      kinds.emplace_back(kind_name(*event));
    CHECK(kinds == std::vector<std::string>{"node_started", "node_finished", "run_finished"});
  }
  SUBCASE("none") {
    auto run = runtime.run(flow);
    auto events = run.events();
    auto only = events.next();
    REQUIRE(only.has_value());
    CHECK(std::holds_alternative<RunFinished>(only->body));
    CHECK_FALSE(events.next().has_value());
  }
}

TEST_CASE("tool calls and their results are streamed") {
  auto config = two_workers();
  Runtime runtime{std::move(config)};
  AgentOptions options;
  options.provider = "local";
  options.tools =
      ToolBox({make_tool("add", "Adds a and b.", object_schema({{"a", "number"}, {"b", "number"}}),
                         [](const Value& args) {
                           return Value(args.at("a").as_double() + args.at("b").as_double());
                         }),
               make_tool("boom", "Always fails.", object_schema({}), [](const Value&) -> Value {
                 throw Failure(Error{Errc::server_error, "boom failed"});
               })});
  auto flow = must(FlowBuilder("agent").node("agent", agent_node(options)).build());
  Collected<RunEvent> seen;
  must(runtime
           .run(flow, State{}.with("prompt", "use add with a=2 and b=3, then boom"),
                {.stream = StreamMode::tools, .on_event = seen.hook()})
           .get());
  std::vector<std::string> kinds;
  for (const auto& event : seen.events()) {
    kinds.emplace_back(kind_name(event));
    if (std::holds_alternative<ToolCalled>(event.body))
      CHECK(event.node == "agent");
    if (auto* returned = std::get_if<ToolReturned>(&event.body)) {
      CHECK(returned->failed == (returned->tool == "boom"));
      CHECK(contains(returned->content, returned->tool == "boom" ? "boom failed" : "5"));
    }
  }
  CHECK(kinds == std::vector<std::string>{"tool_called", "tool_called", "tool_returned",
                                          "tool_returned", "run_finished"});
}

namespace {

// A coroutine the test drives: it reads the stream with next_async, resumed by `post`, which
// queues the resumption for the test's own loop (the host's event loop).
struct Reader {
  struct promise_type {
    Reader get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

struct Loop {
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<std::function<void()>> jobs;
  void post(std::function<void()> job) {
    {
      std::lock_guard lock{mutex};
      jobs.push_back(std::move(job));
    }
    ready.notify_one();
  }
};

Reader read_all(EventStream events, Loop& loop, std::vector<std::string>& kinds, bool& done) {
  // Named before the co_await: GCC 12 destroys a closure temporary of a co_await twice.
  const std::function<void(std::function<void()>)> post = [&loop](auto job) { loop.post(job); };
  while (auto event = co_await events.next_async(post))
    kinds.emplace_back(kind_name(*event));
  done = true;
}

} // namespace

TEST_CASE("a C++20 coroutine reads the stream on the host's loop") {
  Runtime runtime{with_pieces()};
  auto run = runtime.run(summaries_flow(), items(3), {.stream = StreamMode::items});
  Loop loop;
  std::vector<std::string> kinds;
  bool done = false;
  read_all(run.events(), loop, kinds, done);
  auto until = std::chrono::steady_clock::now() + 30s;
  while (!done) {
    std::unique_lock lock{loop.mutex};
    REQUIRE(loop.ready.wait_until(lock, until, [&] { return !loop.jobs.empty(); }));
    auto job = std::move(loop.jobs.front());
    loop.jobs.pop_front();
    lock.unlock();
    job(); // the coroutine runs here, on the host's thread
  }
  CHECK(kinds == std::vector<std::string>{"item_finished", "item_finished", "item_finished",
                                          "run_finished"});
}
