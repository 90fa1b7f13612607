// The embeddable Runtime: handles, callbacks, cancellation, shutdown, several runtimes at once,
// asks to helper actors, and coroutines that suspend without holding a thread.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

// One node that sleeps `delay` (without blocking a thread) and then sets "slept".
Flow sleeper(std::chrono::milliseconds delay) {
  return must(FlowBuilder("sleeper")
                  .node("nap", lambda_node({.prep = {},
                                            .exec = [delay](Value, Context& ctx) -> Task<Value> {
                                              co_await ctx.sleep(delay);
                                              co_return true;
                                            },
                                            .post =
                                                [](State& s, const Value&, const Value& v) {
                                                  s = s.with("slept", v);
                                                  return std::string("default");
                                                }}))
                  .build());
}

// A flow whose node signals `started` and then waits for an hour, to be cancelled.
Flow endless(std::atomic<int>& started) {
  auto* counter = &started;
  return must(FlowBuilder("endless")
                  .node("wait", lambda_node({.prep = {},
                                             .exec = [counter](Value, Context& ctx) -> Task<Value> {
                                               counter->fetch_add(1);
                                               co_await ctx.sleep(1h);
                                               co_return Value{};
                                             },
                                             .post = {}}))
                  .build());
}

} // namespace

TEST_CASE("get blocks until the run ends and can be called again") {
  Runtime runtime{two_workers()};
  auto handle = runtime.run(sleeper(5ms));
  auto first = handle.get();
  REQUIRE(first.ok());
  CHECK(first->state.at("slept").as_bool());
  CHECK(handle.done());
  CHECK(handle.get()->state == first->state);
}

TEST_CASE("the completion callback fires once, and at once when registered after the end") {
  Runtime runtime{two_workers()};
  std::mutex mutex;
  std::condition_variable cv;
  int calls = 0;
  auto handle = runtime.run(sleeper(5ms));
  handle.on_complete([&](const Result<RunResult>& r) {
    CHECK(r.ok());
    std::lock_guard lock{mutex};
    ++calls;
    cv.notify_all();
  });
  {
    std::unique_lock lock{mutex};
    REQUIRE(cv.wait_for(lock, 30s, [&] { return calls == 1; }));
  }
  bool late_call = false;
  handle.on_complete([&](const Result<RunResult>&) { late_call = true; });
  CHECK(late_call); // ran on this thread, before on_complete returned
  CHECK(calls == 1);
}

TEST_CASE("cancel stops a suspended run and its handle reports cancelled") {
  Runtime runtime{two_workers()};
  std::atomic<int> started{0};
  auto handle = runtime.run(endless(started));
  REQUIRE(eventually([&] { return started.load() == 1; }));
  handle.cancel();
  REQUIRE(handle.wait_for(30s));
  auto result = handle.get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::cancelled);
  handle.cancel(); // after the end: no effect, no crash
}

TEST_CASE("cancel reaches nodes of nested flows and of sub-flows awaited from exec") {
  Runtime runtime{two_workers()};
  std::atomic<int> started{0};
  auto inner = endless(started);
  auto awaiting = lambda_node({.prep = {},
                               .exec = [inner](Value, Context& ctx) -> Task<Value> {
                                 auto r = co_await ctx.run(inner, State{});
                                 co_return r.ok();
                               },
                               .post = {}});
  auto middle = must(FlowBuilder("middle").node("awaiting", awaiting).build());
  auto outer = must(FlowBuilder("outer").node("middle", middle).build());
  auto handle = runtime.run(outer);
  REQUIRE(eventually([&] { return started.load() == 1; }));
  handle.cancel();
  REQUIRE(handle.wait_for(30s));
  CHECK(handle.get().error().code == Errc::cancelled);
  // Shutting down would hang if any descendant were still alive; it returns promptly.
  runtime.shutdown();
}

TEST_CASE("shutdown with runs in flight cancels them and completes their handles") {
  std::atomic<int> started{0};
  std::vector<RunHandle> handles;
  {
    Runtime runtime{two_workers()};
    for (int i = 0; i < 20; ++i)
      handles.push_back(runtime.run(endless(started)));
    REQUIRE(eventually([&] { return started.load() == 20; }));
  } // ~Runtime
  for (auto& h : handles) {
    CHECK(h.done());
    CHECK(h.get().error().code == Errc::cancelled);
    h.cancel(); // the runtime is gone: a no-op
  }
}

TEST_CASE("run after shutdown reports cancelled instead of hanging") {
  Runtime runtime{two_workers()};
  runtime.shutdown();
  auto result = runtime.run(sleeper(1ms)).get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::cancelled);
}

TEST_CASE("several runtimes run at once without interfering") {
  Runtime a{two_workers()};
  Runtime b{RuntimeConfig{.worker_threads = 3, .nodes = {}, .log = {}}};
  CHECK(a.worker_threads() == 2);
  CHECK(b.worker_threads() == 3);
  std::atomic<int> started{0};
  auto stuck = a.run(endless(started));
  auto fine = b.run(sleeper(5ms));
  REQUIRE(fine.wait_for(30s));
  CHECK(fine.get().ok());
  a.shutdown(); // cancels a's run only
  CHECK(stuck.get().error().code == Errc::cancelled);
  CHECK(b.run(sleeper(1ms)).get().ok()); // b still works
}

TEST_CASE("10,000 nodes sleeping 100 ms each finish on 2 threads: sleeping holds no thread") {
  // Blocking sleeps would take 10,000 x 100 ms / 2 threads = 500 s; suspended coroutines take
  // about 100 ms plus overhead. The bound is generous for a loaded machine; the real figure is
  // measured by `actorflow bench`, not here.
  Runtime runtime{two_workers()};
  auto flow = sleeper(100ms);
  std::vector<RunHandle> handles;
  handles.reserve(10'000);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10'000; ++i)
    handles.push_back(runtime.run(flow));
  int ok = 0;
  for (auto& h : handles) {
    auto remaining = 30s - (std::chrono::steady_clock::now() - t0);
    REQUIRE(h.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(remaining)));
    ok += h.get().ok() ? 1 : 0;
  }
  CHECK(ok == 10'000);
}

TEST_CASE("a node awaits the reply of a helper actor, which keeps its own state") {
  Runtime runtime{two_workers()};
  std::int64_t total = 0; // touched only by the helper actor, one request at a time
  auto counter = runtime.spawn_actor([&total](const Value& v) -> Result<Value> {
    if (!v.is_int())
      return Error{Errc::bad_input,
                   "counter wants an int, got " + std::string(to_string(v.type()))};
    total += v.as_int();
    return Value(total);
  });
  auto asker = [counter](Value request) {
    return lambda_node({.prep = {},
                        .exec = [counter, request](Value, Context& ctx) -> Task<Value> {
                          auto first = co_await ctx.ask(counter, request);
                          if (!first)
                            co_return Value(first.error().message);
                          auto second = co_await ctx.ask(counter, request);
                          co_return second.ok() ? *second : Value(second.error().message);
                        },
                        .post =
                            [](State& s, const Value&, const Value& v) {
                              s = s.with("reply", v);
                              return std::string("default");
                            }});
  };
  auto good = runtime.run(must(FlowBuilder("f").node("ask", asker(5)).build())).get();
  REQUIRE(good.ok());
  CHECK(good->state.at("reply").as_int() == 10);
  auto bad = runtime.run(must(FlowBuilder("f").node("ask", asker("five")).build())).get();
  REQUIRE(bad.ok());
  CHECK(bad->state.at("reply").as_string() == "counter wants an int, got string");
}

TEST_CASE("an ask that gets no reply in time yields timeout") {
  Runtime runtime{two_workers()};
  std::atomic<int> started{0};
  // The helper is busy: it blocks until released (a deliberately bad helper, to force a timeout).
  std::atomic<bool> release{false};
  auto slow = runtime.spawn_actor([&](const Value&) -> Result<Value> {
    started.fetch_add(1);
    while (!release.load())
      std::this_thread::yield();
    return Value{};
  });
  auto flow =
      must(FlowBuilder("f")
               .node("ask", lambda_node({.prep = {},
                                         .exec = [slow](Value, Context& ctx) -> Task<Value> {
                                           auto r = co_await ctx.ask(slow, 1, 20ms);
                                           co_return static_cast<std::int64_t>(
                                               r.ok() ? 0 : static_cast<int>(r.error().code));
                                         },
                                         .post =
                                             [](State& s, const Value&, const Value& v) {
                                               s = s.with("code", v);
                                               return std::string("default");
                                             }}))
               .build());
  auto result = runtime.run(flow).get();
  release = true;
  REQUIRE(result.ok());
  CHECK(result->state.at("code").as_int() == static_cast<int>(Errc::timeout));
}

TEST_CASE("a default RunHandle reports that it refers to no run") {
  RunHandle none;
  CHECK(none.done());
  CHECK(none.get().error().code == Errc::bad_input);
}

TEST_CASE("an ask of no actor fails at once, also on a virtual clock that never moves") {
  auto clock = std::make_shared<testing::VirtualClock>();
  RuntimeConfig config = two_workers();
  config.clock = clock;
  Runtime runtime{std::move(config)};
  auto flow = must(FlowBuilder("f")
                       .node("ask", lambda_node({.prep = {},
                                                 .exec = [](Value, Context& ctx) -> Task<Value> {
                                                   auto r = co_await ctx.ask(ActorRef{}, 1);
                                                   co_return std::string(to_string(r.error().code));
                                                 },
                                                 .post =
                                                     [](State& s, const Value&, const Value& v) {
                                                       s = s.with("code", v);
                                                       return std::string("default");
                                                     }}))
                       .build());
  auto run = runtime.run(flow);
  // No time passes: the failure comes through the mailbox, not through a timer.
  REQUIRE(run.wait_for(10s));
  auto result = run.get();
  REQUIRE(result.ok());
  CHECK(result->state.at("code").as_string() == "bad_input");
  CHECK(clock->elapsed() == 0s);
}

TEST_CASE("a virtual clock outlives its Runtime and can serve the next one") {
  auto clock = std::make_shared<testing::VirtualClock>();
  for (int round = 0; round < 2; ++round) {
    RuntimeConfig config = two_workers();
    config.clock = clock;
    Runtime runtime{std::move(config)};
    REQUIRE(runtime.run(must(FlowBuilder("f").node("nap", lambda_node({})).build())).get().ok());
  }
  // The first system is gone: waiting for idleness must not look at it.
  CHECK(clock->wait_until_idle());
  CHECK_FALSE(clock->advance_to_next());
}
