// Flow-shaped batches: BatchFlow, ParallelBatchFlow and Burr's map shapes.
#include <actorflow/actorflow.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

// A sub-flow: y = x * factor, after a short sleep so that sub-runs overlap.
Flow times(std::int64_t factor) {
  auto node = lambda_node({.prep = [](const State& s) { return s.at("x"); },
                           .exec = [](Value x, Context& ctx) -> Task<Value> {
                             co_await ctx.sleep(500us);
                             co_return x;
                           },
                           .post =
                               [factor](State& s, const Value&, const Value& x) {
                                 s = s.with("y", x.as_int() * factor);
                                 return std::string(default_action);
                               }});
  return as_flow("times" + std::to_string(factor), node);
}

std::vector<State> xs_states(const State& s) {
  std::vector<State> states;
  for (std::int64_t x = 1; x <= s.at("n").as_int(); ++x)
    states.push_back(s.with("x", x));
  return states;
}

// Sums "y" over the sub-runs into "total".
State sum_y(const State& s, const std::vector<ItemOutcome>& outcomes) {
  std::int64_t total = 0;
  for (const auto& o : outcomes)
    total += o.ok() ? o.value().at("y").as_int() : 0;
  return s.with("total", total);
}

Result<RunResult> run_node(NodeFactory node, State initial) {
  Runtime runtime{two_workers()};
  auto flow = must(FlowBuilder("f").node("map", std::move(node)).build());
  return runtime.run(flow, std::move(initial)).get();
}

} // namespace

TEST_CASE("map_states runs one flow over many states and reduces the results in order") {
  auto result =
      run_node(map_states(times(10), xs_states, collect_results(), {.max_concurrency = 4}),
               State{}.with("n", 20));
  REQUIRE(result.ok());
  const auto& results = result->state.at("results").as_array();
  REQUIRE(results.size() == 20);
  for (std::size_t i = 0; i < results.size(); ++i)
    CHECK(results[i].at("y").as_int() == static_cast<std::int64_t>(i + 1) * 10);
}

TEST_CASE("map_actions runs many flows over one state") {
  auto result = run_node(map_actions({times(2), times(3), times(5)}, sum_y), State{}.with("x", 7));
  REQUIRE(result.ok());
  CHECK(result->state.at("total").as_int() == 7 * (2 + 3 + 5));
}

TEST_CASE("map_actions_and_states runs the cartesian product, flow-major") {
  auto order = [](const State& s, const std::vector<ItemOutcome>& outcomes) {
    Array ys;
    for (const auto& o : outcomes)
      ys.push_back(o.value().at("y"));
    return s.with("ys", ys);
  };
  auto result = run_node(map_actions_and_states({times(1), times(100)}, xs_states, order),
                         State{}.with("n", 3));
  REQUIRE(result.ok());
  CHECK(result->state.at("ys") == Value::array({1, 2, 3, 100, 200, 300}));
}

TEST_CASE("parallel_batch_flow runs the flow once per parameter set on isolated copies") {
  auto params = [](const State&) {
    return Value::array(
        {Value::object({{"x", 1}}), Value::object({{"x", 2}}), Value::object({{"x", 3}})});
  };
  auto result = run_node(parallel_batch_flow(times(10), params, sum_y),
                         State{}.with({{"x", 1000}, {"keep", "me"}}));
  REQUIRE(result.ok());
  CHECK(result->state.at("total").as_int() == 60);
  CHECK(result->state.at("x").as_int() == 1000); // the outer state is not touched by sub-runs
  CHECK(result->state.at("keep").as_string() == "me");
}

TEST_CASE("batch_flow runs parameter sets one after another") {
  auto params = [](const State&) { return Value::array({Value::object({{"x", 4}})}); };
  auto result = run_node(batch_flow(times(3), params, sum_y), State{});
  REQUIRE(result.ok());
  CHECK(result->state.at("total").as_int() == 12);
}

TEST_CASE("parameter sets that are not maps fail with a message naming the set") {
  auto params = [](const State&) { return Value::array({Value::object({{"x", 1}}), 5}); };
  auto result = run_node(parallel_batch_flow(times(1), params), State{});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::bad_input);
  CHECK(result.error().message.find("parameter set 1 is int64, not a map") != std::string::npos);
}

TEST_CASE("a failing sub-run is an item error under collect, and fails the map under fail_fast") {
  auto picky = as_flow("picky", step_node([](State& s) {
                         if (s.at("x").as_int() == 2)
                           throw std::runtime_error("two is not allowed");
                         s = s.with("y", s.at("x"));
                         return std::string(default_action);
                       }));
  SUBCASE("collect") {
    auto result = run_node(map_states(picky, xs_states), State{}.with("n", 3));
    REQUIRE(result.ok());
    const auto& results = result->state.at("results").as_array();
    CHECK(results[0].at("y").as_int() == 1);
    CHECK(results[1].is_null());
    CHECK(results[2].at("y").as_int() == 3);
  }
  SUBCASE("fail_fast") {
    auto result = run_node(
        map_states(picky, xs_states, collect_results(), {.policy = FailurePolicy::fail_fast()}),
        State{}.with("n", 3));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("two is not allowed") != std::string::npos);
  }
}

TEST_CASE("nested parallelism: a parallel batch flow whose sub-flow has a parallel node") {
  class PlusOne : public ParallelBatchNode {
  public:
    PlusOne() : ParallelBatchNode({.max_concurrency = 3}) {}
    Value prep(const State& s) override {
      Array xs;
      for (std::int64_t i = 0; i < s.at("x").as_int(); ++i)
        xs.emplace_back(i);
      return xs;
    }
    Task<Value> exec(Value x, Context& ctx) override {
      co_await ctx.sleep(100us);
      co_return x.as_int() + 1;
    }
    std::string post_batch(State& s, const Value&, BatchResult r) override {
      std::int64_t sum = 0;
      for (const auto& item : r.items)
        sum += item.value().as_int();
      s = s.with("y", sum);
      return "default";
    }
  };
  auto inner = must(FlowBuilder("inner").node<PlusOne>("plus_one").build());
  auto params = [](const State&) {
    Array sets;
    for (int x = 1; x <= 8; ++x)
      sets.push_back(Value::object({{"x", x}}));
    return Value(sets);
  };
  auto result =
      run_node(parallel_batch_flow(inner, params, sum_y, {.max_concurrency = 4}), State{});
  REQUIRE(result.ok());
  std::int64_t expected = 0;
  for (std::int64_t x = 1; x <= 8; ++x)
    expected += x * (x + 1) / 2; // 1 + 2 + ... + x
  CHECK(result->state.at("total").as_int() == expected);
}
