// Model calls from node code: ctx.llm() on the embedded provider, on a provider that answers
// from its own thread, unknown provider names, abandoned calls, and 429s with Retry-After.
#include <actorflow/actorflow.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/testing.hpp>

#include "fake_providers.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <deque>
#include <mutex>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

/// A node that sends the State's "prompt" to provider `provider` ("" = the default) and keeps
/// the answer in "answer" and its usage in "tokens".
NodeFactory ask_node(std::string provider = "") {
  return lambda_node({.prep = [](const State& s) { return s.at("prompt"); },
                      .exec = [provider](Value prompt, Context& ctx) -> Task<Value> {
                        auto client = provider.empty() ? ctx.llm() : ctx.llm(provider);
                        auto reply = co_await client.chat(prompt.as_string());
                        const auto& r = reply.value(); // a failure fails the node, typed
                        co_return Map{{"text", r.text},
                                      {"tokens", static_cast<std::int64_t>(r.usage.total_tokens)}};
                      },
                      .post =
                          [](State& s, const Value&, const Value& v) {
                            s = s.with("answer", v.at("text")).with("tokens", v.at("tokens"));
                            return std::string("default");
                          }});
}

Flow ask_flow(std::string provider = "") {
  return must(FlowBuilder("ask").node("ask", ask_node(std::move(provider))).build());
}

/// A Runtime on a virtual clock whose default provider is `held`.
RuntimeConfig held_on(std::shared_ptr<testing::VirtualClock> clock,
                      std::shared_ptr<HeldProvider> held) {
  RuntimeConfig config = two_workers();
  config.clock = std::move(clock);
  config.models.add("held", std::move(held));
  return config;
}

ChatResponse text_response(std::string text) {
  ChatResponse r;
  r.text = std::move(text);
  r.finish_reason = "stop";
  return r;
}

} // namespace

TEST_CASE("a node summarises through the embedded local provider by default") {
  Runtime runtime{two_workers()};
  std::string text = "Actors share nothing. Each actor owns its state and handles one message at "
                     "a time. Messages between actors are the only way actors interact. The "
                     "weather was pleasant.";
  auto result = runtime.run(ask_flow(), State{}.with("prompt", "Summarize: " + text)).get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  auto answer = result->state.at("answer").as_string();
  CHECK(!answer.empty());
  CHECK(answer == extractive_summary(text, 3));
  CHECK(result->state.at("tokens").as_int() > 0);
  CHECK(runtime.models().default_name() == "local");
}

TEST_CASE("an unknown provider name fails the node with bad_input naming those configured") {
  RuntimeConfig config = two_workers();
  config.models.add("held", std::make_shared<HeldProvider>());
  Runtime runtime{std::move(config)};
  auto result = runtime.run(ask_flow("gpt-9"), State{}.with("prompt", "hi")).get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::bad_input);
  CHECK(result.error().message.find("no model provider named 'gpt-9'") != std::string::npos);
  CHECK(result.error().message.find("held, local") != std::string::npos);
}

TEST_CASE("a provider answering from another thread resumes the node through its mailbox") {
  auto held = std::make_shared<HeldProvider>();
  RuntimeConfig config = two_workers();
  config.models.add("held", held);
  Runtime runtime{std::move(config)};
  CHECK(runtime.models().default_name() == "held"); // the first one added
  auto run = runtime.run(ask_flow(), State{}.with("prompt", "ping"));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  CHECK_FALSE(run.done()); // suspended, holding no thread, until the answer comes
  held->answer(text_response("pong"));
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("answer").as_string() == "pong");
  CHECK(held->prompts() == std::vector<std::string>{"ping"});
}

TEST_CASE("a typed provider error fails the node with that error") {
  auto held = std::make_shared<HeldProvider>();
  RuntimeConfig config = two_workers();
  config.models.add("held", held);
  Runtime runtime{std::move(config)};
  auto run = runtime.run(ask_flow(), State{}.with("prompt", "ping"));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(Error{Errc::bad_request, "POST /chat/completions: HTTP 400: bad model"});
  auto result = run.get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::bad_request);
  CHECK(result.error().message.find("bad model") != std::string::npos);
}

TEST_CASE("a 429 with Retry-After is retried after exactly that wait") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  Runtime runtime{held_on(clock, held)};
  auto flow = must(FlowBuilder("ask")
                       .node("ask", ask_node())
                       .retry("ask", RetryPolicy{.max_attempts = 3, .jitter = Jitter::none})
                       .build());
  auto run = runtime.run(flow, State{}.with("prompt", "ping"));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(Error{Errc::rate_limited, "HTTP 429", 2500ms});
  REQUIRE(clock->wait_until_idle());
  CHECK(held->pending() == 0); // the retry waits on the clock
  REQUIRE(clock->advance_to_next());
  CHECK(clock->elapsed() == 2500ms); // Retry-After, not the 100 ms backoff
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(text_response("pong"));
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->retries == 1);
  CHECK(held->prompts().size() == 2);
}

TEST_CASE("a call still out when its attempt times out is abandoned, its late answer is dropped") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  Runtime runtime{held_on(clock, held)};
  auto flow = must(FlowBuilder("ask")
                       .node("ask", ask_node())
                       .retry("ask", RetryPolicy{.max_attempts = 1, .attempt_timeout = 1000ms})
                       .build());
  auto run = runtime.run(flow, State{}.with("prompt", "ping"));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  auto result = drive(run, *clock);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::timeout);
  held->answer(text_response("too late")); // wakes no one; must not touch freed memory
  REQUIRE(clock->wait_until_idle());
  // The late answer still settled the call's lease, and the runtime goes on as before.
  auto stats = runtime.limit_stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].in_flight == 0);
  auto again = runtime.run(flow, State{}.with("prompt", "pong"));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(text_response("in time"));
  auto second = again.get();
  REQUIRE_MESSAGE(second.ok(), second.error().to_string());
  CHECK(second->state.at("answer").as_string() == "in time");
}

TEST_CASE("the registry's default is set_default's, else the first added, else local") {
  ModelRegistry r;
  CHECK(r.default_name() == "local");
  r.add("b", make_local_provider()).add("a", make_local_provider());
  CHECK(r.default_name() == "b");
  CHECK(r.names() == std::vector<std::string>{"a", "b"});
  r.set_default("a");
  CHECK(r.default_name() == "a");
  CHECK(r.find("c") == nullptr);
}

namespace {

/// One chat call per item; post_batch keeps each item's counted tokens.
class ChatEach : public ParallelBatchNode {
public:
  ChatEach() : ParallelBatchNode(BatchOptions{.max_concurrency = 4}) {}
  Value prep(const State& s) override { return s.at("prompts"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto reply = co_await ctx.llm().chat(prompt.as_string());
    co_return static_cast<std::int64_t>(reply.value().usage.total_tokens);
  }
  std::string post_batch(State& s, const Value&, BatchResult result) override {
    Array counted;
    Array reported;
    for (const auto& item : result.items) {
      counted.emplace_back(item.tokens);
      reported.push_back(item.value());
    }
    s = s.with("counted", std::move(counted)).with("reported", std::move(reported));
    return std::string(default_action);
  }
};

} // namespace

TEST_CASE("each batch item's outcome carries the tokens its model calls used") {
  Runtime runtime{two_workers()};
  Array prompts{Value("Summarize: One sentence here. Another one there."),
                Value("Title: actors and messages and actors"), Value("hello")};
  auto flow = must(FlowBuilder("each").node<ChatEach>("chat").build());
  auto result = runtime.run(flow, State{}.with("prompts", prompts)).get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  const auto& counted = result->state.at("counted").as_array();
  const auto& reported = result->state.at("reported").as_array();
  REQUIRE(counted.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(counted[i].as_int() > 0);
    CHECK(counted[i].as_int() == reported[i].as_int());
  }
}

namespace {

// Calls the model, then runs `inner` (which calls it too); every other exec fails (`execs`
// counts them across runs), so each run's first attempt fails and its second succeeds.
class CallsThenFailsOnce final : public Node {
public:
  CallsThenFailsOnce(Flow f, std::shared_ptr<std::atomic<int>> n)
      : inner(std::move(f)), execs(std::move(n)) {}
  Task<Value> exec(Value, Context& ctx) override {
    auto own = co_await ctx.llm().chat("outer");
    (void)own;
    auto r = co_await ctx.run(inner, State{}.with("prompt", "inner"));
    if (++*execs % 2 == 1)
      throw Failure(Error{Errc::server_error, "first attempt fails"});
    co_return Value(r.ok());
  }
  Flow inner;
  std::shared_ptr<std::atomic<int>> execs;
};

} // namespace

TEST_CASE("a durable run's calls have origins: distinct across attempts (also in sub-flows), the "
          "same when the run's code runs again, none outside a durable run") {
  auto recorder = std::make_shared<OriginRecorder>();
  RuntimeConfig config;
  config.models.add("rec", recorder);
  config.checkpoints = must(open_checkpoint_store(":memory:"));
  Runtime runtime{std::move(config)};
  auto inner = must(FlowBuilder("inner").node("ask", ask_node()).build());
  auto flow = must(FlowBuilder("outer")
                       .node("node",
                             [inner, execs = std::make_shared<std::atomic<int>>(0)] {
                               return std::make_unique<CallsThenFailsOnce>(inner, execs);
                             })
                       .retry("node", RetryPolicy{.max_attempts = 2, .jitter = Jitter::none})
                       .build());
  auto places = [&](std::size_t from) {
    std::vector<std::string> out;
    auto all = recorder->origins();
    for (std::size_t i = from; i < all.size(); ++i)
      out.push_back(all[i].place);
    return out;
  };

  must(runtime.run(flow, State{}, RunOptions{.run_id = "first"}).get());
  const auto first = places(0);
  REQUIRE(first.size() == 4); // outer and inner call, two attempts
  for (std::size_t i = 0; i < first.size(); ++i) {
    INFO(first[i]);
    CHECK(recorder->origins()[i].run_id == "first");
    for (std::size_t j = i + 1; j < first.size(); ++j)
      CHECK(first[i] != first[j]);
  }

  must(runtime.run(flow, State{}, RunOptions{.run_id = "second"}).get());
  CHECK(places(4) == first); // the same code to the same places
  CHECK(recorder->origins()[4].run_id == "second");

  must(runtime.run(flow, State{}).get()); // not durable
  const auto all = recorder->origins();
  REQUIRE(all.size() == 12);
  for (std::size_t i = 8; i < all.size(); ++i)
    CHECK(all[i].empty());
}
