// Running flows: action routing, branches, cycles, nested flows, and user exceptions in every
// step becoming typed errors of the run.
#include <actorflow/actorflow.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

// A Runtime per run: cheap, and never a static (see Runtime's contract on static lifetime).
Result<RunResult> run(const Flow& flow, State initial = {}) {
  Runtime runtime{two_workers()};
  auto handle = runtime.run(flow, std::move(initial));
  REQUIRE_MESSAGE(handle.wait_for(30s), "run did not end within 30 s");
  return handle.get();
}

// Adds `by` to the integer at "n".
NodeFactory add(std::int64_t by) {
  return step_node([by](State& s) {
    s = s.with("n", s.get_or("n", 0).as_int() + by);
    return std::string(default_action);
  });
}

// Routes on the parity of "n".
NodeFactory parity() {
  return step_node([](State& s) { return s.at("n").as_int() % 2 == 0 ? "even" : "odd"; });
}

NodeFactory mark(std::string key) {
  return step_node([key](State& s) {
    s = s.with(key, true);
    return std::string(default_action);
  });
}

} // namespace

TEST_CASE("a three-node flow routes on the action a node returns") {
  auto flow = must(FlowBuilder("branch")
                       .node("check", parity())
                       .node("on_even", mark("even"))
                       .node("on_odd", mark("odd"))
                       .edge("check", "on_even", "even")
                       .edge("check", "on_odd", "odd")
                       .build());
  SUBCASE("even") {
    auto result = run(flow, State{}.with("n", 4));
    REQUIRE(result.ok());
    CHECK(result->state.contains("even"));
    CHECK_FALSE(result->state.contains("odd"));
    CHECK(result->path == std::vector<std::string>{"check", "on_even"});
  }
  SUBCASE("odd") {
    auto result = run(flow, State{}.with("n", 7));
    REQUIRE(result.ok());
    CHECK(result->state.contains("odd"));
    CHECK(result->path == std::vector<std::string>{"check", "on_odd"});
  }
}

TEST_CASE("the initial state is not changed by a run") {
  auto flow = must(FlowBuilder("f").node("a", add(5)).build());
  auto initial = State{}.with("n", 1);
  auto result = run(flow, initial);
  REQUIRE(result.ok());
  CHECK(result->state.at("n").as_int() == 6);
  CHECK(initial.at("n").as_int() == 1);
}

TEST_CASE("a cycle runs until a node leaves it") {
  auto loop = step_node([](State& s) { return s.at("n").as_int() < 10 ? "again" : "done"; });
  auto flow = must(FlowBuilder("loop")
                       .node("inc", add(1))
                       .node("test", loop)
                       .node("end", mark("ended"))
                       .edge("inc", "test")
                       .edge("test", "inc", "again")
                       .edge("test", "end", "done")
                       .build());
  auto result = run(flow, State{}.with("n", 0));
  REQUIRE(result.ok());
  CHECK(result->state.at("n").as_int() == 10);
  CHECK(result->path.size() == 21); // 10 x (inc, test) + end
}

TEST_CASE("an endless cycle fails with step_limit naming the flow") {
  auto flow = must(FlowBuilder("spin")
                       .node("a", add(1))
                       .node("b", add(1))
                       .edge("a", "b")
                       .edge("b", "a")
                       .max_steps(50)
                       .build());
  auto result = run(flow);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::step_limit);
  CHECK(result.error().message.find("flow 'spin'") != std::string::npos);
  CHECK(result.error().message.find("max_steps=50") != std::string::npos);
}

TEST_CASE("an action without an edge ends the flow and is reported as a warning") {
  auto odd_one = step_node([](State&) { return std::string("surprise"); });
  auto flow = must(
      FlowBuilder("f").node("a", odd_one).node("b", mark("b")).edge("a", "b", "expected").build());
  auto result = run(flow);
  REQUIRE(result.ok());
  CHECK(result->action == "surprise");
  CHECK_FALSE(result->state.contains("b"));
  REQUIRE(result->warnings.size() == 1);
  CHECK(result->warnings[0].find("returned action 'surprise'") != std::string::npos);
}

TEST_CASE("a terminal node ends the flow without a warning and its action is the result's") {
  auto flow = must(FlowBuilder("f").node("a", add(1)).build());
  auto result = run(flow);
  REQUIRE(result.ok());
  CHECK(result->action == "default");
  CHECK(result->warnings.empty());
}

TEST_CASE("a nested flow runs on the outer state and its final action picks the outer edge") {
  auto inner = must(FlowBuilder("inner")
                        .node("double", step_node([](State& s) {
                                s = s.with("n", s.at("n").as_int() * 2);
                                return std::string(default_action);
                              }))
                        .node("check", parity())
                        .edge("double", "check")
                        .build());
  auto outer = must(FlowBuilder("outer")
                        .node("start", add(1))
                        .node("inner", inner)
                        .node("after_even", mark("after_even"))
                        .edge("start", "inner")
                        .edge("inner", "after_even", "even")
                        .build());
  auto result = run(outer, State{}.with("n", 1));
  REQUIRE(result.ok());
  CHECK(result->state.at("n").as_int() == 4);
  CHECK(result->state.contains("after_even"));
  CHECK(result->path ==
        std::vector<std::string>{"start", "inner/double", "inner/check", "after_even"});
}

TEST_CASE("flows nest three deep") {
  auto level3 = must(FlowBuilder("l3").node("x", add(100)).build());
  auto level2 =
      must(FlowBuilder("l2").node("l3", level3).node("y", add(10)).edge("l3", "y").build());
  auto level1 =
      must(FlowBuilder("l1").node("l2", level2).node("z", add(1)).edge("l2", "z").build());
  auto result = run(level1, State{}.with("n", 0));
  REQUIRE(result.ok());
  CHECK(result->state.at("n").as_int() == 111);
  CHECK(result->path == std::vector<std::string>{"l2/l3/x", "l2/y", "z"});
}

namespace {

enum class ThrowIn { factory, prep, exec_before_await, exec_after_await, post };

class Thrower : public Node {
public:
  explicit Thrower(ThrowIn where) : where_(where) {}
  Value prep(const State&) override {
    if (where_ == ThrowIn::prep)
      throw std::runtime_error("prep broke");
    return 1;
  }
  Task<Value> exec(Value input, Context& ctx) override {
    if (where_ == ThrowIn::exec_before_await)
      throw std::runtime_error("exec broke early");
    co_await ctx.sleep(1ms);
    if (where_ == ThrowIn::exec_after_await)
      throw std::invalid_argument("exec broke late");
    co_return input;
  }
  std::string post(State&, const Value&, const Value&) override {
    if (where_ == ThrowIn::post)
      throw std::out_of_range("post broke");
    return "default";
  }

private:
  ThrowIn where_;
};

void check_throw(ThrowIn where, const char* expected) {
  NodeFactory factory = factory_of<Thrower>(where);
  if (where == ThrowIn::factory)
    factory = []() -> std::unique_ptr<Node> { throw std::runtime_error("factory broke"); };
  auto flow = must(FlowBuilder("f").node("bad", factory).build());
  auto result = run(flow);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::node_threw);
  CHECK_MESSAGE(result.error().message.find(expected) != std::string::npos, result.error().message);
  CHECK(result.error().message.find("node 'bad'") != std::string::npos);
}

} // namespace

TEST_CASE("an exception in any step fails the run with node_threw, not the process") {
  SUBCASE("factory") { check_throw(ThrowIn::factory, "factory threw: factory broke"); }
  SUBCASE("prep") { check_throw(ThrowIn::prep, "prep threw: prep broke"); }
  SUBCASE("exec before its first await") {
    check_throw(ThrowIn::exec_before_await, "exec threw: exec broke early");
  }
  SUBCASE("exec after an await") { check_throw(ThrowIn::exec_after_await, "exec broke late"); }
  SUBCASE("post") { check_throw(ThrowIn::post, "post threw: post broke"); }
}

TEST_CASE("a Failure thrown by exec keeps its error code") {
  auto flow = must(
      FlowBuilder("f")
          .node("strict", lambda_node({.prep = {},
                                       .exec = [](Value, Context&) -> Task<Value> {
                                         throw Failure(Error{Errc::bad_input, "wanted a number"});
                                         co_return Value{};
                                       },
                                       .post = {}}))
          .build());
  auto result = run(flow);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::bad_input);
  CHECK(result.error().message.find("wanted a number") != std::string::npos);
}

TEST_CASE("exec_fallback supplies a value when exec fails") {
  class Fallible : public Node {
  public:
    Task<Value> exec(Value, Context&) override {
      throw std::runtime_error("no luck");
      co_return Value{};
    }
    Value exec_fallback(const Value&, const Error& error) override {
      return "fallback after: " + error.message;
    }
    std::string post(State& s, const Value&, const Value& exec_result) override {
      s = s.with("out", exec_result);
      return "default";
    }
  };
  auto flow = must(FlowBuilder("f").node<Fallible>("fallible").build());
  auto result = run(flow);
  REQUIRE(result.ok());
  CHECK(result->state.at("out").as_string().find("no luck") != std::string::npos);
}

TEST_CASE("a node awaits a sub-flow from exec") {
  auto inner = must(FlowBuilder("inner").node("x", add(41)).build());
  auto flow =
      must(FlowBuilder("outer")
               .node("caller", lambda_node({.prep = {},
                                            .exec = [inner](Value, Context& ctx) -> Task<Value> {
                                              auto r =
                                                  co_await ctx.run(inner, State{}.with("n", 1));
                                              if (!r)
                                                throw Failure(r.error());
                                              co_return r->state.at("n");
                                            },
                                            .post =
                                                [](State& s, const Value&, const Value& out) {
                                                  s = s.with("answer", out);
                                                  return std::string("default");
                                                }}))
               .build());
  auto result = run(flow);
  REQUIRE(result.ok());
  CHECK(result->state.at("answer").as_int() == 42);
}

TEST_CASE("a registered node type is made by name, and an unknown one fails the run") {
  NodeRegistry registry;
  REQUIRE(registry.add("add_three", add(3)).ok());
  Runtime runtime{RuntimeConfig{.worker_threads = 2, .nodes = registry, .log = {}}};
  SUBCASE("known") {
    auto flow = must(FlowBuilder("f").registered_node("a", "add_three").build());
    auto result = runtime.run(flow, State{}.with("n", 1)).get();
    REQUIRE(result.ok());
    CHECK(result->state.at("n").as_int() == 4);
  }
  SUBCASE("unknown") {
    auto flow = must(FlowBuilder("f").registered_node("a", "add_four").build());
    auto result = runtime.run(flow).get();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::invalid_flow);
    CHECK(result.error().message.find("no registered node type 'add_four'") != std::string::npos);
  }
}
