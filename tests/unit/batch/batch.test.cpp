// Parallel batch nodes: one actor per item, a bounded window, ordered gather, failure
// policies, as-completed folding with early stop, progress, cancellation.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <stdexcept>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

// Tracks how many execs run at once, and the most ever seen.
struct Concurrency {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  void enter() {
    auto n = now.fetch_add(1) + 1;
    auto p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void leave() { now.fetch_sub(1); }
};

// Squares each number of state["xs"] after a random delay (0-5 ms) so that items finish out of
// order; tracks concurrency.
class SlowSquares : public ParallelBatchNode {
public:
  SlowSquares(BatchOptions options, Concurrency* c) : ParallelBatchNode(options), c_(c) {}
  Value prep(const State& s) override { return s.at("xs"); }
  Task<Value> exec(Value x, Context& ctx) override {
    c_->enter();
    // Seeded by the item: the same delays on every run, so a failing order can be replayed.
    std::mt19937 rng{static_cast<std::uint32_t>(x.as_int() + 1)};
    co_await ctx.sleep(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 5000)(rng)));
    c_->leave();
    if (x.as_int() < 0)
      throw std::invalid_argument("negative: " + std::to_string(x.as_int()));
    co_return x.as_int() * x.as_int();
  }

private:
  Concurrency* c_;
};

Value numbers(std::int64_t n, std::int64_t negative_at = -1) {
  Array xs;
  for (std::int64_t i = 0; i < n; ++i)
    xs.emplace_back(i == negative_at ? -1 : i);
  return xs;
}

Result<RunResult> run_one(Runtime& runtime, NodeFactory node, State initial,
                          RunOptions options = {}) {
  auto flow = must(FlowBuilder("batch").node("squares", std::move(node)).build());
  auto handle = runtime.run(flow, std::move(initial), std::move(options));
  REQUIRE_MESSAGE(handle.wait_for(60s), "the batch did not end within 60 s");
  return handle.get();
}

} // namespace

TEST_CASE("results arrive in input order although items finish out of order") {
  Runtime runtime{two_workers()};
  Concurrency c;
  auto result = run_one(runtime, factory_of<SlowSquares>(BatchOptions{.max_concurrency = 8}, &c),
                        State{}.with("xs", numbers(200)));
  REQUIRE(result.ok());
  const auto& squares = result->state.at("results").as_array();
  REQUIRE(squares.size() == 200);
  for (std::int64_t i = 0; i < 200; ++i)
    CHECK(squares[static_cast<std::size_t>(i)].as_int() == i * i);
  CHECK(c.peak.load() <= 8);
  CHECK(c.peak.load() >= 2); // it really ran in parallel
}

TEST_CASE("the window is never exceeded, for several window sizes") {
  for (std::size_t window : {1u, 3u, 32u}) {
    CAPTURE(window);
    Runtime runtime{two_workers()};
    Concurrency c;
    auto result =
        run_one(runtime, factory_of<SlowSquares>(BatchOptions{.max_concurrency = window}, &c),
                State{}.with("xs", numbers(100)));
    REQUIRE(result.ok());
    CHECK(c.peak.load() <= static_cast<int>(window));
    CHECK(c.peak.load() >= 1);
  }
}

TEST_CASE("the window fills: with every item waiting on the clock, exactly the window runs") {
  for (std::size_t window : {1u, 3u, 32u}) {
    CAPTURE(window);
    auto clock = std::make_shared<testing::VirtualClock>();
    RuntimeConfig config = two_workers();
    config.clock = clock;
    Runtime runtime{std::move(config)};
    Concurrency c;
    struct Waits : ParallelBatchNode {
      Waits(std::size_t w, Concurrency* counter)
          : ParallelBatchNode(BatchOptions{.max_concurrency = w}), c(counter) {}
      Value prep(const State& st) override { return st.at("xs"); }
      Task<Value> exec(Value x, Context& ctx) override {
        c->enter();
        co_await ctx.sleep(10ms); // no item can end before time moves
        c->leave();
        co_return x;
      }
      Concurrency* c;
    };
    auto flow = must(FlowBuilder("batch").node<Waits>("waits", window, &c).build());
    auto run = runtime.run(flow, State{}.with("xs", numbers(100)));
    REQUIRE(clock->wait_until_idle());
    CHECK(c.now.load() == static_cast<int>(window));
    auto result = drive(run, *clock);
    REQUIRE(result.ok());
    CHECK(c.peak.load() == static_cast<int>(window));
  }
}

TEST_CASE("BatchNode runs one item at a time") {
  class Sequential : public BatchNode {
  public:
    explicit Sequential(Concurrency* c) : c_(c) {}
    Value prep(const State& s) override { return s.at("xs"); }
    Task<Value> exec(Value x, Context& ctx) override {
      c_->enter();
      co_await ctx.sleep(200us);
      c_->leave();
      co_return x;
    }

  private:
    Concurrency* c_;
  };
  Runtime runtime{two_workers()};
  Concurrency c;
  auto result = run_one(runtime, factory_of<Sequential>(&c), State{}.with("xs", numbers(30)));
  REQUIRE(result.ok());
  CHECK(result->state.at("results").size() == 30);
  CHECK(c.peak.load() == 1);
}

TEST_CASE("100,000 items pass through the fan-out") {
  class Echo : public ParallelBatchNode {
  public:
    Echo() : ParallelBatchNode(BatchOptions{.max_concurrency = 256}) {}
    Value prep(const State& s) override { return s.at("xs"); }
    Task<Value> exec(Value x, Context&) override { co_return x; }
    std::string post_batch(State& s, const Value&, BatchResult r) override {
      std::int64_t sum = 0;
      bool ordered = true;
      for (std::size_t i = 0; i < r.items.size(); ++i) {
        ordered = ordered && r.items[i].index == i && r.items[i].ok();
        sum += r.items[i].ok() ? r.items[i].value().as_int() : 0;
      }
      s = s.with({{"sum", sum}, {"ordered", ordered}, {"succeeded", r.summary.succeeded}});
      return "default";
    }
  };
  Runtime runtime{two_workers()};
  auto result = run_one(runtime, factory_of<Echo>(), State{}.with("xs", numbers(100'000)));
  REQUIRE(result.ok());
  CHECK(result->state.at("succeeded").as_int() == 100'000);
  CHECK(result->state.at("ordered").as_bool());
  CHECK(result->state.at("sum").as_int() == 100'000LL * 99'999 / 2);
}

TEST_CASE("collect: a throwing item does not stop the others, post sees the counts") {
  class Collect : public SlowSquares {
  public:
    explicit Collect(Concurrency* c) : SlowSquares(BatchOptions{.max_concurrency = 4}, c) {}
    std::string post_batch(State& s, const Value&, BatchResult r) override {
      s = s.with({{"succeeded", r.summary.succeeded},
                  {"failed", r.summary.failed},
                  {"error_at_7", r.items[7].error().message},
                  {"code_at_7", static_cast<int>(r.items[7].error().code)}});
      return "default";
    }
  };
  Runtime runtime{two_workers()};
  Concurrency c;
  auto result = run_one(runtime, factory_of<Collect>(&c), State{}.with("xs", numbers(20, 7)));
  REQUIRE(result.ok());
  CHECK(result->state.at("succeeded").as_int() == 19);
  CHECK(result->state.at("failed").as_int() == 1);
  CHECK(result->state.at("code_at_7").as_int() == static_cast<int>(Errc::node_threw));
  CHECK(result->state.at("error_at_7").as_string().find("item 7 exec threw: negative: -1") !=
        std::string::npos);
}

TEST_CASE("fail_fast: the first failure fails the node with that item's error") {
  Runtime runtime{two_workers()};
  Concurrency c;
  auto node = factory_of<SlowSquares>(
      BatchOptions{.max_concurrency = 4, .policy = FailurePolicy::fail_fast()}, &c);
  auto result = run_one(runtime, node, State{}.with("xs", numbers(50, 3)));
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::node_threw);
  CHECK(result.error().message.find("item 3 exec threw: negative") != std::string::npos);
}

TEST_CASE("quorum succeeds early and cancels the rest, or fails once out of reach") {
  Runtime runtime{two_workers()};
  Concurrency c;
  class Quorum : public SlowSquares {
  public:
    Quorum(FailurePolicy p, Concurrency* c) : SlowSquares({.max_concurrency = 4, .policy = p}, c) {}
    std::string post_batch(State& s, const Value&, BatchResult r) override {
      s = s.with({{"succeeded", r.summary.succeeded}, {"early", r.summary.stopped_early}});
      return "default";
    }
  };
  SUBCASE("reached") {
    auto result = run_one(runtime, factory_of<Quorum>(FailurePolicy::quorum(5), &c),
                          State{}.with("xs", numbers(100)));
    REQUIRE(result.ok());
    CHECK(result->state.at("succeeded").as_int() == 5);
    CHECK(result->state.at("early").as_bool());
  }
  SUBCASE("out of reach") {
    Array xs{1, -1, -2, -3, 5};
    auto result =
        run_one(runtime, factory_of<Quorum>(FailurePolicy::quorum(3), &c), State{}.with("xs", xs));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::batch_failed);
    CHECK(result.error().message.find("quorum not reached") != std::string::npos);
  }
}

TEST_CASE("max_error_rate fails the batch once too many items failed") {
  Runtime runtime{two_workers()};
  Concurrency c;
  Array xs;
  for (int i = 0; i < 40; ++i)
    xs.emplace_back(i % 2 == 0 ? -1 : i); // half of them fail
  auto node = factory_of<SlowSquares>(
      BatchOptions{.max_concurrency = 4, .policy = FailurePolicy::max_error_rate(0.25)}, &c);
  auto result = run_one(runtime, node, State{}.with("xs", xs));
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::batch_failed);
  CHECK(result.error().message.find("error rate over 0.25") != std::string::npos);
}

TEST_CASE("as_completed: a reducer folds outcomes as they arrive and stops at the first k") {
  class FirstThree : public ParallelBatchNode {
  public:
    FirstThree() : ParallelBatchNode({.max_concurrency = 8, .as_completed = true}) {}
    Value prep(const State& s) override { return s.at("xs"); }
    Task<Value> exec(Value x, Context& ctx) override {
      // Items 0..9 answer fast; the rest would take an hour unless cancelled.
      co_await ctx.sleep(x.as_int() < 10 ? std::chrono::milliseconds(1) : std::chrono::hours(1));
      co_return x;
    }
    bool on_item(const ItemOutcome& outcome) override {
      if (outcome.ok())
        answers_.push_back(outcome.value());
      return answers_.size() < 3;
    }
    std::string post_batch(State& s, const Value&, BatchResult r) override {
      s = s.with({{"answers", answers_},
                  {"kept", r.items.size()},
                  {"early", r.summary.stopped_early},
                  {"cancelled", r.summary.cancelled}});
      return "default";
    }

  private:
    Array answers_;
  };
  Runtime runtime{two_workers()};
  auto result = run_one(runtime, factory_of<FirstThree>(), State{}.with("xs", numbers(1000)));
  REQUIRE(result.ok());
  CHECK(result->state.at("answers").size() == 3);
  for (const auto& a : result->state.at("answers").as_array())
    CHECK(a.as_int() < 10);
  CHECK(result->state.at("kept").as_int() == 0); // nothing gathered: memory stays flat
  CHECK(result->state.at("early").as_bool());
  CHECK(result->state.at("cancelled").as_int() >= 1);
}

TEST_CASE("a generator is pulled lazily: never more than the window ahead of the finished items") {
  struct Counters {
    std::atomic<std::int64_t> pulled{0};
    std::atomic<std::int64_t> finished{0};
    std::atomic<std::int64_t> worst_lead{0};
  };
  class Generated : public ParallelBatchNode {
  public:
    explicit Generated(Counters* k) : ParallelBatchNode({.max_concurrency = 5}), k_(k) {}
    ItemSource items(const State&, const Value&) override {
      return {[k = k_]() -> std::optional<Value> {
                if (k->pulled.load() == 500)
                  return std::nullopt;
                auto lead = k->pulled.fetch_add(1) + 1 - k->finished.load();
                if (lead > k->worst_lead.load())
                  k->worst_lead.store(lead);
                return Value(k->pulled.load());
              },
              std::nullopt};
    }
    Task<Value> exec(Value x, Context& ctx) override {
      co_await ctx.sleep(100us);
      k_->finished.fetch_add(1);
      co_return x;
    }

  private:
    Counters* k_;
  };
  Runtime runtime{two_workers()};
  Counters k;
  auto result = run_one(runtime, factory_of<Generated>(&k), State{});
  REQUIRE(result.ok());
  CHECK(result->state.at("results").size() == 500);
  CHECK(k.worst_lead.load() <= 5);
}

TEST_CASE("prep that is not an array fails the node, naming the type") {
  Runtime runtime{two_workers()};
  Concurrency c;
  auto result = run_one(runtime, factory_of<SlowSquares>(BatchOptions{}, &c),
                        State{}.with("xs", "not a list"));
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::bad_input);
  CHECK(result.error().message.find("prep must return an array, got string") != std::string::npos);
}

TEST_CASE("an empty batch runs post_batch with no results") {
  Runtime runtime{two_workers()};
  Concurrency c;
  auto result =
      run_one(runtime, factory_of<SlowSquares>(BatchOptions{}, &c), State{}.with("xs", Array{}));
  REQUIRE(result.ok());
  CHECK(result->state.at("results").size() == 0);
}

TEST_CASE("the host sees progress events ending with every item done") {
  Runtime runtime{two_workers()};
  Concurrency c;
  Collected<BatchProgress> progress;
  RunOptions options;
  options.on_progress = progress.hook();
  auto result = run_one(runtime, factory_of<SlowSquares>(BatchOptions{.max_concurrency = 4}, &c),
                        State{}.with("xs", numbers(300, 5)), std::move(options));
  REQUIRE(result.ok());
  const auto events = progress.events();
  REQUIRE(events.size() >= 2);
  const auto& last = events.back();
  CHECK(last.finished);
  CHECK(last.node == "squares");
  CHECK(last.done == 300);
  CHECK(last.failed == 1);
  CHECK(last.in_flight == 0);
  REQUIRE(last.total.has_value());
  CHECK(*last.total == 300);
  for (std::size_t i = 1; i < events.size(); ++i)
    CHECK(events[i].done >= events[i - 1].done);
}

namespace {

std::atomic<int> live_items{0};     // item node instances alive right now
std::atomic<int> finished_items{0}; // execs that ran to their end

class Endless : public ParallelBatchNode {
public:
  Endless() : ParallelBatchNode({.max_concurrency = 16}) { live_items.fetch_add(1); }
  ~Endless() override { live_items.fetch_sub(1); }
  Endless(const Endless&) = delete;
  Endless& operator=(const Endless&) = delete;
  Value prep(const State& s) override { return s.at("xs"); }
  Task<Value> exec(Value x, Context& ctx) override {
    co_await ctx.sleep(1h);
    finished_items.fetch_add(1);
    co_return x;
  }
};

} // namespace

TEST_CASE("cancelling mid-batch stops every item actor (checked by counting live instances)") {
  Runtime runtime{two_workers()};
  live_items = 0;
  finished_items = 0;
  auto flow = must(FlowBuilder("f").node<Endless>("endless").build());
  auto handle = runtime.run(flow, State{}.with("xs", numbers(1000)));
  // The batch instance plus a full window of 16 item instances.
  REQUIRE(eventually([] { return live_items.load() == 17; }));
  handle.cancel();
  REQUIRE(handle.wait_for(30s));
  CHECK(handle.get().error().code == Errc::cancelled);
  // Not assumed: every instance is destroyed without shutting the runtime down.
  CHECK(eventually([] { return live_items.load() == 0; }, 10s));
  CHECK(finished_items.load() == 0);
}

TEST_CASE("nested parallelism: a batch item awaits a sub-flow that has its own batch") {
  class Inner : public ParallelBatchNode {
  public:
    Inner() : ParallelBatchNode({.max_concurrency = 3}) {}
    Value prep(const State& s) override { return s.at("xs"); }
    Task<Value> exec(Value x, Context& ctx) override {
      co_await ctx.sleep(100us);
      co_return x.as_int() + 1;
    }
  };
  auto inner = must(FlowBuilder("inner").node<Inner>("plus_one").build());
  class Outer : public ParallelBatchNode {
  public:
    explicit Outer(Flow inner)
        : ParallelBatchNode({.max_concurrency = 4}), inner_(std::move(inner)) {}
    Value prep(const State& s) override { return s.at("groups"); }
    Task<Value> exec(Value group, Context& ctx) override {
      auto r = co_await ctx.run(inner_, State{}.with("xs", group));
      if (!r)
        throw Failure(r.error());
      std::int64_t sum = 0;
      for (const auto& v : r->state.at("results").as_array())
        sum += v.as_int();
      co_return sum;
    }

  private:
    Flow inner_;
  };
  Runtime runtime{two_workers()};
  Array groups;
  for (int g = 0; g < 10; ++g)
    groups.push_back(numbers(10)); // 0..9, +1 each: sum 55
  auto flow = must(FlowBuilder("outer").node<Outer>("groups", inner).build());
  auto result = runtime.run(flow, State{}.with("groups", groups)).get();
  REQUIRE(result.ok());
  const auto& sums = result->state.at("results").as_array();
  REQUIRE(sums.size() == 10);
  for (const auto& s : sums)
    CHECK(s.as_int() == 55);
}
