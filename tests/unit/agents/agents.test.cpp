// Agents on the runtime: structured outputs with repair, tool calls in their own actors
// (validated arguments, errors back to the model, retries, fallbacks, the host's own thread),
// parallel tool calls overlapping on the virtual clock, and the agent node's stop reasons.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

/// A fake provider (for unit tests) that answers each chat with `answer(request)` and keeps
/// the requests it saw.
class FakeChatProvider final : public ModelProvider {
public:
  using Answer = std::function<ChatResponse(const ChatRequest&)>;
  explicit FakeChatProvider(Answer answer, bool json_schema = true)
      : answer_(std::move(answer)), json_schema_(json_schema) {}
  std::string_view kind() const noexcept override { return "fake"; }
  std::string default_model() const override { return "fake-1"; }
  bool supports_json_schema() const noexcept override { return json_schema_; }
  void chat(ChatRequest request, ChatDone done) override {
    auto response = answer_(request);
    {
      std::lock_guard guard(mutex_);
      seen_.push_back(std::move(request));
    }
    done(ModelOutcome<ChatResponse>(std::move(response)));
  }
  void embed(EmbedRequest, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(Error{Errc::bad_request, "fake: no embeddings"}));
  }
  std::vector<ChatRequest> seen() {
    std::lock_guard guard(mutex_);
    return seen_;
  }

private:
  Answer answer_;
  bool json_schema_;
  std::mutex mutex_;
  std::vector<ChatRequest> seen_;
};

ChatResponse text(std::string t, std::uint64_t tokens = 10) {
  ChatResponse r;
  r.text = std::move(t);
  r.finish_reason = "stop";
  r.usage = Usage{tokens, 0, tokens, 0};
  return r;
}

Value parse(std::string_view json) { return must(from_json(json)); }

Value point_schema() {
  return parse(R"({"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},
                   "required":["x","y"],"additionalProperties":false})");
}

/// A one-node flow whose node runs `exec` and keeps its value under "out".
Flow one_node(std::function<Task<Value>(Value, Context&)> exec) {
  return must(FlowBuilder("f")
                  .node("n", lambda_node({.prep = {},
                                          .exec = std::move(exec),
                                          .post =
                                              [](State& s, const Value&, const Value& v) {
                                                s = s.with("out", v);
                                                return std::string(default_action);
                                              }}))
                  .build());
}

RuntimeConfig with_provider(std::shared_ptr<ModelProvider> provider) {
  auto config = two_workers();
  config.models.add("main", std::move(provider));
  return config;
}

Result<RunResult> run_flow(Runtime& runtime, const Flow& flow, State state = {}) {
  auto run = runtime.run(flow, std::move(state));
  REQUIRE(run.wait_for(30s));
  return run.get();
}

Value structured_out(Runtime& runtime, ChatRequest request, Value schema) {
  auto flow = one_node([request, schema](Value, Context& ctx) -> Task<Value> {
    auto v = co_await ctx.llm().structured(request, schema);
    co_return v ? *v
                : Value::object({{"error", Value(v.error().to_string())},
                                 {"code", Value(std::string(to_string(v.error().code)))}});
  });
  return must(run_flow(runtime, flow)).state.at("out");
}

/// A Tool whose handler sleeps `delay` on the runtime's clock, then returns its name.
Tool sleeper(std::string name, std::chrono::milliseconds delay) {
  Tool t{name, "sleeps", Value::object({{"type", "object"}})};
  t.handler = [name, delay](Value, Context& ctx) -> Task<Value> {
    co_await ctx.sleep(delay);
    co_return Value(name);
  };
  return t;
}

} // namespace

TEST_CASE("structured: a valid answer comes back as a Value, the schema sent as response_format") {
  auto fake = std::make_shared<FakeChatProvider>([](const ChatRequest&) {
    return text(R"(```json
{"x": 1, "y": 2}
```)");
  });
  Runtime runtime{with_provider(fake)};
  auto out = structured_out(runtime, ChatRequest::user("a point"), point_schema());
  CHECK(out == parse(R"({"x":1,"y":2})"));
  auto seen = fake->seen();
  REQUIRE(seen.size() == 1);
  REQUIRE(seen[0].response_format);
  CHECK(seen[0].response_format->type == ResponseFormat::Type::json_schema);
  CHECK(seen[0].response_format->schema == point_schema());
}

TEST_CASE("structured: a broken answer is repaired with the problems quoted") {
  RuntimeConfig config = two_workers();
  config.models.add("local", make_local_provider({.bad_structured_one_in = 1}));
  Runtime runtime{std::move(config)};
  auto flow = one_node([](Value, Context& ctx) -> Task<Value> {
    // Named first: GCC 12 mishandles temporaries inside a co_await expression.
    auto request = ChatRequest::user("x is 3 and y is 4");
    auto answer = co_await ctx.llm().structured(std::move(request), point_schema());
    co_return answer.value();
  });
  auto result = must(run_flow(runtime, flow));
  CHECK(result.state.at("out") == parse(R"({"x":3,"y":4})"));
  CHECK(result.usage.calls == 2); // the broken answer and its repair
}

TEST_CASE("structured: an answer still broken after max_repairs is bad_output naming the path") {
  auto fake = std::make_shared<FakeChatProvider>(
      [](const ChatRequest&) { return text(R"({"x": "one", "y": 2})"); });
  Runtime runtime{with_provider(fake)};
  auto out = structured_out(runtime, ChatRequest::user("a point"), point_schema());
  CHECK(out.at("code") == Value("bad_output"));
  CHECK(contains(out.at("error").as_string(), "$.x"));
  CHECK(contains(out.at("error").as_string(), "after 2 repairs"));
  auto seen = fake->seen();
  REQUIRE(seen.size() == 3);
  // The last repair quotes the problem and carries the earlier answers.
  CHECK(contains(seen[2].messages.back().content, "$.x"));
  CHECK(seen[2].messages.size() == 5);
}

TEST_CASE("structured: not JSON, a refusal, and a schema that is no schema") {
  auto garbage = std::make_shared<FakeChatProvider>([](const ChatRequest&) { return text("no"); });
  Runtime runtime{with_provider(garbage)};
  auto out = structured_out(runtime, ChatRequest::user("p"), point_schema());
  CHECK(out.at("code") == Value("bad_output"));
  CHECK(contains(out.at("error").as_string(), "not JSON"));

  auto refusing = std::make_shared<FakeChatProvider>([](const ChatRequest&) {
    auto r = text("");
    r.refusal = "I will not.";
    return r;
  });
  Runtime second{with_provider(refusing)};
  out = structured_out(second, ChatRequest::user("p"), point_schema());
  CHECK(out.at("code") == Value("bad_output"));
  CHECK(contains(out.at("error").as_string(), "I will not."));
  out = structured_out(second, ChatRequest::user("p"), parse(R"({"type": 5})"));
  CHECK(out.at("code") == Value("bad_input"));
}

TEST_CASE("structured: without server-side schemas the schema goes into a system message") {
  auto fake = std::make_shared<FakeChatProvider>(
      [](const ChatRequest&) { return text(R"({"x": 1, "y": 2})"); }, /*json_schema=*/false);
  Runtime runtime{with_provider(fake)};
  CHECK(structured_out(runtime, ChatRequest::user("p"), point_schema()).at("x") == Value(1));
  auto seen = fake->seen();
  REQUIRE(seen.size() == 1);
  CHECK_FALSE(seen[0].response_format);
  CHECK(seen[0].messages.front().role == "system");
  CHECK(contains(seen[0].messages.front().content, R"("required":["x","y"])"));
}

TEST_CASE(
    "tool calls: bad JSON, arguments that break the schema and unknown tools go back as errors") {
  std::atomic<int> ran{0};
  ToolBox tools(std::vector<Tool>{make_tool(
      "add", "adds", object_schema({{"a", "number"}, {"b", "number"}}), [&](const Value& args) {
        ++ran;
        return Value(args.at("a").as_double() + args.at("b").as_double());
      })});
  std::vector<ToolCall> calls{{"1", "add", R"({"a": 1.5, "b": 2})"},
                              {"2", "add", R"({"a": 1)"},
                              {"3", "add", R"({"a": "one", "b": 2})"},
                              {"4", "subtract", "{}"}};
  auto flow = one_node([&](Value, Context& ctx) -> Task<Value> {
    auto results = co_await run_tool_calls(ctx, tools, calls);
    co_return to_value(results);
  });
  Runtime runtime{two_workers()};
  auto out = must(messages_from_value(must(run_flow(runtime, flow)).state.at("out")));
  REQUIRE(out.size() == 4);
  CHECK(out[0] == ChatMessage::tool_result("1", "add", "3.5"));
  CHECK(out[1].content.starts_with("Error: bad_input: the arguments are not valid JSON"));
  CHECK(out[2].content.starts_with("Error: bad_input: the arguments break the tool's schema"));
  CHECK(contains(out[2].content, "$.a"));
  CHECK(out[3].content == "Error: there is no tool 'subtract' (tools: add)");
  CHECK(ran == 1); // the handler never saw the bad calls
}

TEST_CASE("tool calls: a failing tool is retried under its policy, then falls back") {
  std::atomic<int> attempts{0};
  Tool flaky{"flaky", "fails twice", Value::object({{"type", "object"}})};
  flaky.retry = RetryPolicy{.max_attempts = 3, .initial_backoff = 10ms, .jitter = Jitter::none};
  flaky.handler = [&](Value, Context&) -> Task<Value> {
    if (++attempts < 3)
      throw Failure(Error{Errc::unavailable, "not yet"});
    co_return Value("third time");
  };
  Tool broken{"broken", "always fails", Value::object({{"type", "object"}})};
  broken.handler = [](Value, Context&) -> Task<Value> {
    throw Failure(Error{Errc::server_error, "down"});
    co_return Value();
  };
  Tool rescued = broken;
  rescued.name = "rescued";
  rescued.fallback = [](const Value&, const Error& e) { return Value("fallback: " + e.message); };
  ToolBox tools(std::vector<Tool>{flaky, broken, rescued});
  std::vector<ToolCall> calls{{"1", "flaky", "{}"}, {"2", "broken", "{}"}, {"3", "rescued", "{}"}};
  auto flow = one_node([&](Value, Context& ctx) -> Task<Value> {
    auto results = co_await run_tool_calls(ctx, tools, calls);
    co_return to_value(results);
  });
  auto clock = std::make_shared<testing::VirtualClock>();
  auto config = two_workers();
  config.clock = clock;
  Runtime runtime{std::move(config)};
  auto result = must(drive(runtime.run(flow, State{}), *clock));
  auto out = must(messages_from_value(result.state.at("out")));
  CHECK(out[0].content == "third time");
  CHECK(attempts == 3);
  CHECK(out[1].content == "Error: server_error: down");
  CHECK(out[2].content == "fallback: down");
}

TEST_CASE("tool calls: a tool bound to the host's own thread runs there") {
  // The host's event loop: one thread running posted jobs in order.
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  bool stop = false;
  std::thread loop([&] {
    std::unique_lock lock(mutex);
    while (true) {
      cv.wait(lock, [&] { return stop || !jobs.empty(); });
      if (jobs.empty())
        return;
      auto job = std::move(jobs.front());
      jobs.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  });
  Executor post = [&](std::function<void()> job) {
    std::lock_guard guard(mutex);
    jobs.push_back(std::move(job));
    cv.notify_one();
  };
  auto host_thread = loop.get_id();
  std::atomic<bool> on_host{false};
  ToolBox tools(std::vector<Tool>{make_tool_on(
      post, "where", "says where it ran", Value::object({{"type", "object"}}), [&](const Value&) {
        on_host = std::this_thread::get_id() == host_thread;
        return Value("host");
      })});
  std::vector<ToolCall> calls{ToolCall{"1", "where", "{}"}};
  auto flow = one_node([&](Value, Context& ctx) -> Task<Value> {
    auto results = co_await run_tool_calls(ctx, tools, calls);
    co_return to_value(results);
  });
  {
    Runtime runtime{two_workers()};
    auto out = must(messages_from_value(must(run_flow(runtime, flow)).state.at("out")));
    CHECK(out[0].content == "host");
  }
  CHECK(on_host);
  {
    std::lock_guard guard(mutex);
    stop = true;
    cv.notify_one();
  }
  loop.join();
}

TEST_CASE("the parallel tool calls of one turn overlap: three 100 ms tools take 100 ms") {
  AgentOptions options;
  options.tools = ToolBox(
      std::vector<Tool>{sleeper("alpha", 100ms), sleeper("beta", 100ms), sleeper("gamma", 100ms)});
  auto flow = must(FlowBuilder("agent").node("agent", agent_node(options)).build());
  auto clock = std::make_shared<testing::VirtualClock>();
  auto config = two_workers();
  config.clock = clock;
  Runtime runtime{std::move(config)};
  auto result = must(drive(
      runtime.run(flow, State{}.with("prompt", "Ask alpha, beta and gamma at once.")), *clock));
  CHECK(clock->elapsed() == 100ms);
  CHECK(result.state.at("answer") == Value("[local model] alpha: alpha; beta: beta; gamma: gamma"));
  CHECK(result.state.at("agent").at("tool_calls") == Value(3));
  CHECK(result.state.at("agent").at("turns") == Value(2));
  CHECK(result.state.at("agent").at("stop") == Value("answer"));
  auto transcript = must(messages_from_value(result.state.at("transcript")));
  REQUIRE(transcript.size() == 6); // user, assistant with 3 calls, 3 results, ... answer
  CHECK(transcript[1].tool_calls.size() == 3);
}

TEST_CASE("an agent stops at max_turns, and when its token budget is spent") {
  // A model that always wants one more tool call, 100 tokens a turn.
  auto fake = std::make_shared<FakeChatProvider>([](const ChatRequest&) {
    auto r = text("", 100);
    r.tool_calls = {{"c", "noop", "{}"}};
    r.finish_reason = "tool_calls";
    return r;
  });
  AgentOptions options;
  options.tools = ToolBox(std::vector<Tool>{make_tool(
      "noop", "", Value::object({{"type", "object"}}), [](const Value&) { return Value("ok"); })});
  options.max_turns = 4;
  Runtime runtime{with_provider(fake)};
  auto by_turns = must(FlowBuilder("a").node("a", agent_node(options)).build());
  auto r = must(run_flow(runtime, by_turns, State{}.with("prompt", "go")));
  CHECK(r.state.at("agent").at("stop") == Value("max_turns"));
  CHECK(r.state.at("agent").at("turns") == Value(4));
  CHECK(r.state.at("answer").is_null());

  options.token_budget = 250;
  auto by_budget = must(FlowBuilder("b").node("b", agent_node(options)).build());
  r = must(run_flow(runtime, by_budget, State{}.with("prompt", "go")));
  CHECK(r.state.at("agent").at("stop") == Value("budget"));
  CHECK(r.state.at("agent").at("turns") == Value(3));
  CHECK(r.state.at("agent").at("tokens") == Value(300));
}

TEST_CASE(
    "an agent retries a failed turn on its own, and a turn that keeps failing fails the node") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto config = two_workers();
  config.clock = clock;
  // A provider that fails with 500 twice, then answers.
  class Flaky final : public ModelProvider {
  public:
    explicit Flaky(int failures) : failures_(failures) {}
    std::string_view kind() const noexcept override { return "flaky"; }
    std::string default_model() const override { return "flaky"; }
    void chat(ChatRequest, ChatDone done) override {
      if (calls_++ < failures_)
        done(ModelOutcome<ChatResponse>(Error{Errc::server_error, "500"}));
      else
        done(ModelOutcome<ChatResponse>(text("fine")));
    }
    void embed(EmbedRequest, EmbedDone) override {}
    std::atomic<int> calls_{0};
    int failures_;
  };
  auto flaky = std::make_shared<Flaky>(2);
  config.models.add("flaky", flaky);
  Runtime runtime{std::move(config)};
  auto flow = must(FlowBuilder("a").node("a", agent_node({})).build());
  auto r = must(drive(runtime.run(flow, State{}.with("prompt", "hi")), *clock));
  CHECK(r.state.at("answer") == Value("fine"));
  CHECK(flaky->calls_ == 3);

  auto always = std::make_shared<Flaky>(1000);
  auto config2 = two_workers();
  config2.models.add("always", always);
  Runtime second{std::move(config2)};
  AgentOptions quick;
  quick.turn_retry = RetryPolicy{.max_attempts = 2, .initial_backoff = 1ms};
  auto failing = must(FlowBuilder("a").node("a", agent_node(quick)).build());
  auto failed = run_flow(second, failing, State{}.with("prompt", "hi"));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::server_error);
  CHECK(always->calls_ == 2);
}

// The same loop written by hand as a flow with a cycle (decide -> act -> decide) is
// examples/agent_tools.cpp, run and checked as the CTest example:agent_tools.
