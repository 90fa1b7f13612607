// Supervision in the running system, on a virtual clock (no test waits on real time): retries
// with backoff, fallbacks, timeouts, dead children, circuits, cancellation and deadlines.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

using testing::ModelStep;
using testing::ScriptedModel;
using testing::VirtualClock;
using ModelPtr = std::shared_ptr<ScriptedModel>;

// Records supervision events (they arrive on runtime threads).
struct Events {
  std::mutex mutex;
  std::vector<AttemptEvent> seen;
  std::function<void(const AttemptEvent&)> sink() {
    return [this](const AttemptEvent& e) {
      std::lock_guard lock{mutex};
      seen.push_back(e);
    };
  }
  std::vector<AttemptEvent> of(AttemptEvent::Kind kind) {
    std::lock_guard lock{mutex};
    std::vector<AttemptEvent> out;
    for (auto& e : seen)
      if (e.kind == kind)
        out.push_back(e);
    return out;
  }
};

RetryPolicy retries(std::uint32_t attempts, Jitter jitter = Jitter::none) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.initial_backoff = 100ms;
  p.multiplier = 2.0;
  p.max_backoff = 10s;
  p.jitter = jitter;
  return p;
}

// A node whose exec asks the scripted model once; its answer becomes state["answer"].
class AskModel : public Node {
public:
  AskModel(ModelPtr model, std::optional<Value> fallback = std::nullopt)
      : model_(std::move(model)), fallback_(std::move(fallback)) {}
  Task<Value> exec(Value, Context& ctx) override {
    auto reply = co_await model_->call(ctx);
    if (!reply)
      throw Failure(reply.error());
    co_return *reply;
  }
  Value exec_fallback(const Value& input, const Error& error) override {
    if (fallback_)
      return *fallback_;
    return Node::exec_fallback(input, error);
  }
  std::string post(State& state, const Value&, const Value& result) override {
    state = state.with("answer", result);
    return "default";
  }

private:
  ModelPtr model_;
  std::optional<Value> fallback_;
};

// One model call per item of state["xs"].
class AskPerItem : public ParallelBatchNode {
public:
  AskPerItem(ModelPtr model, std::size_t window, std::optional<RetryPolicy> policy)
      : ParallelBatchNode(BatchOptions{.max_concurrency = window}), model_(std::move(model)) {
    if (policy)
      set_retry_policy(*policy);
  }
  Value prep(const State& s) override { return s.at("xs"); }
  Task<Value> exec(Value x, Context& ctx) override {
    auto reply = co_await model_->call(ctx);
    if (!reply)
      throw Failure(reply.error());
    co_return x;
  }

private:
  ModelPtr model_;
};

Value numbers(std::int64_t n) {
  Array xs;
  for (std::int64_t i = 0; i < n; ++i)
    xs.emplace_back(i);
  return xs;
}

RuntimeConfig on(std::shared_ptr<VirtualClock> clock) {
  auto config = two_workers();
  config.clock = std::move(clock);
  return config;
}

} // namespace

TEST_CASE("a flaky exec that fails twice then succeeds ends ok after 3 attempts, on schedule") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{
      ModelStep::server_error(), ModelStep::server_error(), ModelStep::answer("fine")});
  auto flow = must(FlowBuilder("f").node<AskModel>("ask", model).retry("ask", retries(5)).build());
  Events events;
  auto run = runtime.run(flow, {}, RunOptions{.on_attempt = events.sink()});
  auto result = drive(run, *clock);
  REQUIRE(result.ok());
  CHECK(result->state.at("answer").as_string() == "fine");
  CHECK(result->retries == 2);
  CHECK(model->calls() == 3);
  auto scheduled = events.of(AttemptEvent::Kind::retry_scheduled);
  REQUIRE(scheduled.size() == 2);
  CHECK(scheduled[0].delay == 100ms);
  CHECK(scheduled[1].delay == 200ms);
  CHECK(scheduled[1].attempt == 2);
  CHECK(clock->elapsed() == 300ms); // the run waited exactly the backoffs
}

TEST_CASE("Retry-After from a 429 decides the wait") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(
      std::deque<ModelStep>{ModelStep::rate_limited(2500ms), ModelStep::answer("ok")});
  auto flow = must(FlowBuilder("f").node<AskModel>("ask", model).retry("ask", retries(3)).build());
  auto result = drive(runtime.run(flow), *clock);
  REQUIRE(result.ok());
  CHECK(clock->elapsed() == 2500ms);
}

TEST_CASE("a permanently failing exec yields its fallback value after the last attempt") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()});
  auto flow = must(FlowBuilder("f")
                       .node<AskModel>("ask", model, Value("fallback"))
                       .retry("ask", retries(4))
                       .build());
  Events events;
  auto result = drive(runtime.run(flow, {}, RunOptions{.on_attempt = events.sink()}), *clock);
  REQUIRE(result.ok());
  CHECK(result->state.at("answer").as_string() == "fallback");
  CHECK(model->calls() == 4);
  CHECK(events.of(AttemptEvent::Kind::fallback_used).size() == 1);
}

TEST_CASE("a non-retryable error is not retried") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{
      ModelStep::failure(Error{Errc::bad_request, "400: unknown model"}), ModelStep::answer("x")});
  auto flow = must(FlowBuilder("f").node<AskModel>("ask", model).retry("ask", retries(5)).build());
  auto result = drive(runtime.run(flow), *clock);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::bad_request);
  CHECK(model->calls() == 1);
}

TEST_CASE("a flow's default retry policy applies, a node's own policy wins over it") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()});
  // The node's own policy (1 attempt) beats the flow default (5).
  auto items = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()});
  auto flow = must(FlowBuilder("f")
                       .node<AskPerItem>("each", items, 1, retries(1))
                       .node<AskModel>("ask", model)
                       .edge("each", "ask")
                       .default_retry(retries(3))
                       .build());
  auto result = drive(runtime.run(flow, State{}.with("xs", numbers(1))), *clock);
  REQUIRE_FALSE(result.ok());
  CHECK(items->calls() == 1);
  CHECK(model->calls() == 3);
}

TEST_CASE("batch items are retried each on their own, outcomes carry their attempts") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  // Calls in order: the first two fail (whichever items make them), then all succeed.
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{
      ModelStep::server_error(), ModelStep::server_error(), ModelStep::answer("ok")});
  auto flow = must(FlowBuilder("f").node<AskPerItem>("each", model, 1, retries(3)).build());
  auto result = drive(runtime.run(flow, State{}.with("xs", numbers(4))), *clock);
  REQUIRE(result.ok());
  const auto& results = result->state.at("results").as_array();
  REQUIRE(results.size() == 4);
  for (std::int64_t i = 0; i < 4; ++i)
    CHECK(results[static_cast<std::size_t>(i)].as_int() == i);
  CHECK(result->retries == 2);
  CHECK(model->calls() == 6);
}

TEST_CASE("an exec that throws is retried") {
  struct Throws : ParallelBatchNode {
    explicit Throws(std::shared_ptr<std::atomic<int>> calls)
        : ParallelBatchNode(BatchOptions{.max_concurrency = 1}), calls_(std::move(calls)) {
      set_retry_policy(retries(2));
    }
    Value prep(const State& s) override { return s.at("xs"); }
    Task<Value> exec(Value x, Context&) override {
      if (calls_->fetch_add(1) == 0)
        throw std::runtime_error("first call fails");
      co_return x;
    }
    std::shared_ptr<std::atomic<int>> calls_;
  };
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto flow = must(FlowBuilder("f").node<Throws>("t", calls).build());
  auto result = drive(runtime.run(flow, State{}.with("xs", numbers(1))), *clock);
  REQUIRE(result.ok());
  CHECK(calls->load() == 2);
  CHECK(result->retries == 1);
}

TEST_CASE("an item actor that is killed is retried in a fresh actor") {
  struct DiesOnce : ParallelBatchNode {
    explicit DiesOnce(std::shared_ptr<std::atomic<int>> calls)
        : ParallelBatchNode(BatchOptions{.max_concurrency = 2}), calls_(std::move(calls)) {
      set_retry_policy(retries(2));
    }
    Value prep(const State& s) override { return s.at("xs"); }
    Task<Value> exec(Value x, Context& ctx) override {
      if (calls_->fetch_add(1) == 0)
        co_await testing::crash_this_actor(ctx); // never returns: the actor is killed
      co_return x;
    }
    std::shared_ptr<std::atomic<int>> calls_;
  };
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto calls = std::make_shared<std::atomic<int>>(0);
  Events events;
  auto flow = must(FlowBuilder("f").node<DiesOnce>("d", calls).build());
  auto result = drive(
      runtime.run(flow, State{}.with("xs", numbers(3)), RunOptions{.on_attempt = events.sink()}),
      *clock);
  REQUIRE(result.ok());
  CHECK(result->state.at("results").as_array().size() == 3);
  CHECK(calls->load() == 4);
  auto failed = events.of(AttemptEvent::Kind::failed);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].error.code == Errc::peer_lost);
}

TEST_CASE("an attempt that never completes is abandoned after attempt_timeout and retried") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(
      std::deque<ModelStep>{ModelStep::hang(), ModelStep::answer("late but fine", 50ms)});
  auto policy = retries(3);
  policy.attempt_timeout = 1s;
  SUBCASE("a single node") {
    auto flow = must(FlowBuilder("f").node<AskModel>("ask", model).retry("ask", policy).build());
    Events events;
    auto result = drive(runtime.run(flow, {}, RunOptions{.on_attempt = events.sink()}), *clock);
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().to_string()));
    CHECK(result->state.at("answer").as_string() == "late but fine");
    CHECK(events.of(AttemptEvent::Kind::timed_out).size() == 1);
    CHECK(clock->elapsed() == 1s + 100ms + 50ms); // timeout, backoff, answer
  }
  SUBCASE("a batch item") {
    auto flow = must(FlowBuilder("f").node<AskPerItem>("each", model, 1, policy).build());
    Events events;
    auto result = drive(
        runtime.run(flow, State{}.with("xs", numbers(1)), RunOptions{.on_attempt = events.sink()}),
        *clock);
    REQUIRE(result.ok());
    auto timed_out = events.of(AttemptEvent::Kind::timed_out);
    REQUIRE(timed_out.size() == 1);
    CHECK(timed_out[0].error.code == Errc::timeout);
    CHECK(timed_out[0].attempt == 1);
  }
  CHECK(model->calls() == 2);
}

TEST_CASE("an item's attempt timer never fires on a later item that reuses its slot") {
  // Window 1: every item runs in the same slot, at attempt 1. Each takes 600 ms against a
  // limit of 1 s, so the first item's timer (due at 1 s) fires while the second runs.
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model =
      std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::answer("ok", 600ms)});
  auto policy = retries(1);
  policy.attempt_timeout = 1s;
  auto flow = must(FlowBuilder("f").node<AskPerItem>("each", model, 1, policy).build());
  Events events;
  auto result = drive(
      runtime.run(flow, State{}.with("xs", numbers(4)), RunOptions{.on_attempt = events.sink()}),
      *clock);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().to_string()));
  CHECK(events.of(AttemptEvent::Kind::timed_out).empty());
  CHECK(model->calls() == 4);
  CHECK(clock->elapsed() == 4 * 600ms);
}

TEST_CASE("too many failures open the circuit: the rest of the batch fails fast") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()});
  auto policy = retries(1);
  policy.circuit = CircuitPolicy{.max_failures = 3, .window = 60s, .cool_down = 30s};
  auto flow = must(FlowBuilder("f").node<AskPerItem>("each", model, 1, policy).build());
  Events events;
  auto result = drive(
      runtime.run(flow, State{}.with("xs", numbers(20)), RunOptions{.on_attempt = events.sink()}),
      *clock);
  REQUIRE(result.ok()); // collect: the batch completes with its failures counted
  CHECK(model->calls() == 3);
  CHECK(events.of(AttemptEvent::Kind::circuit_opened).size() == 1);
  CHECK(events.of(AttemptEvent::Kind::circuit_rejected).size() == 17);
  for (const auto& value : result->state.at("results").as_array())
    CHECK(value.is_null()); // the default post_batch stores null for a failed item
}

TEST_CASE("a single node's retries obey the circuit too: it opens and the node fails fast") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()});
  auto policy = retries(10);
  policy.circuit = CircuitPolicy{.max_failures = 3, .window = 60s, .cool_down = 30s};
  auto flow = must(FlowBuilder("f").node<AskModel>("ask", model).retry("ask", policy).build());
  Events events;
  auto result = drive(runtime.run(flow, {}, RunOptions{.on_attempt = events.sink()}), *clock);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::circuit_open);
  CHECK(testing_support::contains(result.error().message, "node 'ask' exec: circuit open"));
  CHECK(model->calls() == 3); // not the 10 attempts the policy allows
  CHECK(events.of(AttemptEvent::Kind::retry_scheduled).size() == 2);
  CHECK(events.of(AttemptEvent::Kind::circuit_opened).size() == 1);
  REQUIRE(events.of(AttemptEvent::Kind::circuit_rejected).size() == 1);
  CHECK(events.of(AttemptEvent::Kind::circuit_rejected)[0].attempt == 3);
  CHECK(clock->elapsed() == 300ms); // the two backoffs, and no more
}

TEST_CASE("cancel drops pending retries: no attempt runs afterwards") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()});
  auto policy = retries(10);
  policy.initial_backoff = 10s;
  auto flow = must(FlowBuilder("f").node<AskPerItem>("each", model, 4, policy).build());
  auto run = runtime.run(flow, State{}.with("xs", numbers(4)));
  REQUIRE(eventually([&] { return model->calls() == 4; }));
  REQUIRE(clock->wait_for_pending(4)); // four backoff timers
  run.cancel();
  REQUIRE(run.wait_for(10s));
  CHECK(run.get().error().code == Errc::cancelled);
  clock->advance(1h);                // the retries' timers fire into dead actors
  REQUIRE(clock->wait_until_idle()); // whatever they started has run by now
  CHECK(model->calls() == 4);
}

TEST_CASE("a run's deadline stops every actor and reports deadline_exceeded") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::hang()});
  auto flow = must(FlowBuilder("f").node<AskPerItem>("each", model, 8, retries(3)).build());
  auto run = runtime.run(flow, State{}.with("xs", numbers(8)), RunOptions{.deadline = 5s});
  REQUIRE(eventually([&] { return model->calls() == 8; }));
  auto result = drive(run, *clock);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::deadline_exceeded);
  CHECK(clock->elapsed() == 5s);
  clock->advance(1h);
  REQUIRE(clock->wait_until_idle());
  CHECK(model->calls() == 8);
}

namespace {

// Awaits an inner flow that hangs until its deadline of 2 s, then (if `then` is set) awaits a
// timer of its own; state["inner"] is the inner run's outcome code, or "finished".
struct AwaitsHangingFlow : Node {
  AwaitsHangingFlow(Flow f, std::chrono::milliseconds then_sleep)
      : inner(std::move(f)), then(then_sleep) {}
  Task<Value> exec(Value, Context& ctx) override {
    auto r = co_await ctx.run(inner, State{});
    if (then.count() > 0)
      co_await ctx.sleep(then); // the node must still be alive to wake from this
    co_return Value(std::string(r.ok() ? "finished" : to_string(r.error().code)));
  }
  std::string post(State& s, const Value&, const Value& v) override {
    s = s.with("inner", v);
    return std::string(default_action);
  }
  Flow inner;
  std::chrono::milliseconds then;
};

Result<RunResult> run_hanging_inner_flow(VirtualClock& clock, Runtime& runtime,
                                         std::chrono::milliseconds then_sleep) {
  auto model = std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::hang()});
  auto inner = must(FlowBuilder("inner").node<AskModel>("ask", model).deadline(2s).build());
  auto flow = must(FlowBuilder("outer").node<AwaitsHangingFlow>("o", inner, then_sleep).build());
  return drive(runtime.run(flow), clock);
}

} // namespace

TEST_CASE("a nested flow's own timeout fails the awaiting exec with deadline_exceeded") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto result = run_hanging_inner_flow(*clock, runtime, 0ms);
  REQUIRE(result.ok());
  CHECK(result->state.at("inner").as_string() == "deadline_exceeded");
  CHECK(clock->elapsed() == 2s);
}

TEST_CASE("a node goes on after its nested flow's deadline passed (the stop stays below it)") {
  auto clock = std::make_shared<VirtualClock>();
  Runtime runtime{on(clock)};
  auto result = run_hanging_inner_flow(*clock, runtime, 20ms);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().to_string()));
  CHECK(result->state.at("inner").as_string() == "deadline_exceeded");
  CHECK(clock->elapsed() == 2s + 20ms);
}
