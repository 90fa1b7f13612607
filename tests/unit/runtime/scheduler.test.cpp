// The scheduler's policies (actors/scheduler/), seen from a Runtime: both run batches
// correctly; stealing, which keeps a worker's actors on that worker, still spreads CPU-bound
// items over the workers, and does not leave jobs behind an actor that blocks its worker.
#include <actorflow/actorflow.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

RuntimeConfig two_workers_with(SchedulerPolicy policy) {
  RuntimeConfig config = two_workers();
  config.scheduler = policy;
  return config;
}

Result<RunResult> run_batch(Runtime& runtime, NodeFactory node, std::int64_t items) {
  Array xs;
  for (std::int64_t i = 0; i < items; ++i)
    xs.emplace_back(i);
  auto flow = must(FlowBuilder("batch").node("items", std::move(node)).build());
  auto handle = runtime.run(flow, State{}.with("xs", Value(std::move(xs))));
  REQUIRE_MESSAGE(handle.wait_for(60s), "the batch did not end within 60 s");
  return handle.get();
}

// Squares its items; notes the threads that ran exec.
class Squares : public ParallelBatchNode {
public:
  Squares(BatchOptions options, std::chrono::microseconds busy, std::mutex* lock,
          std::set<std::thread::id>* threads)
      : ParallelBatchNode(options), busy_(busy), lock_(lock), threads_(threads) {}
  Value prep(const State& s) override { return s.at("xs"); }
  Task<Value> exec(Value x, Context&) override {
    {
      std::lock_guard guard{*lock_};
      threads_->insert(std::this_thread::get_id());
    }
    // CPU-bound work, as a parse or a local embedding would be.
    const auto until = std::chrono::steady_clock::now() + busy_;
    while (std::chrono::steady_clock::now() < until) {
    }
    co_return x.as_int() * x.as_int();
  }

private:
  std::chrono::microseconds busy_;
  std::mutex* lock_;
  std::set<std::thread::id>* threads_;
};

// Runs `items` squares (each `busy` of CPU) under `policy` and checks every result; returns the
// threads that ran exec.
std::set<std::thread::id> run_squares(SchedulerPolicy policy, std::size_t window,
                                      std::chrono::microseconds busy, std::int64_t items) {
  Runtime runtime{two_workers_with(policy)};
  std::mutex lock;
  std::set<std::thread::id> threads;
  auto result = run_batch(
      runtime, factory_of<Squares>(BatchOptions{.max_concurrency = window}, busy, &lock, &threads),
      items);
  REQUIRE(result.ok());
  const auto& squares = result->state.at("results").as_array();
  REQUIRE(squares.size() == static_cast<std::size_t>(items));
  for (std::int64_t i = 0; i < items; ++i)
    REQUIRE(squares[static_cast<std::size_t>(i)].as_int() == i * i);
  return threads;
}

} // namespace

TEST_CASE("both scheduler policies run a batch of 20000 items, in order") {
  for (auto policy : {SchedulerPolicy::stealing, SchedulerPolicy::sharing}) {
    CAPTURE(static_cast<int>(policy));
    run_squares(policy, 256, 0us, 20000);
  }
}

TEST_CASE("stealing spreads CPU-bound items over every worker") {
  // 200 items of 1 ms each: the idle worker's first theft runs for 1 ms, which pays for the
  // move, so it keeps stealing.
  CHECK(run_squares(SchedulerPolicy::stealing, 64, 1000us, 200).size() == 2);
}

TEST_CASE("an actor that blocks its worker does not hold up the jobs queued behind it") {
  // Item 0 blocks its worker until every other item has run; those were queued on the same
  // worker (the batch spawns its window there), so only the other worker can run them.
  struct Blocking : ParallelBatchNode {
    explicit Blocking(std::atomic<int>* others)
        : ParallelBatchNode(BatchOptions{.max_concurrency = 64}), others_(others) {}
    Value prep(const State& s) override { return s.at("xs"); }
    Task<Value> exec(Value x, Context&) override {
      if (x.as_int() != 0) {
        others_->fetch_add(1);
        co_return x;
      }
      // Waits on the event itself, bounded so that a failure ends instead of hanging.
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (others_->load() < 63 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      co_return Value(others_->load());
    }
    std::atomic<int>* others_;
  };
  for (auto policy : {SchedulerPolicy::stealing, SchedulerPolicy::sharing}) {
    CAPTURE(static_cast<int>(policy));
    Runtime runtime{two_workers_with(policy)};
    std::atomic<int> others{0};
    auto result = run_batch(runtime, factory_of<Blocking>(&others), 64);
    REQUIRE(result.ok());
    const auto& results = result->state.at("results").as_array();
    REQUIRE(results.size() == 64);
    CHECK(results[0].as_int() == 63); // it saw every other item run while it blocked
  }
}
