// Build-time validation: every mistake is reported, naming the node or edge at fault.
#include <actorflow/flow.hpp>

#include <doctest/doctest.h>

using namespace actorflow;

namespace {

NodeFactory noop() {
  return step_node([](State&) { return std::string(default_action); });
}

std::string build_error(const FlowBuilder& builder) {
  auto flow = builder.build();
  REQUIRE_FALSE(flow.ok());
  CHECK(flow.error().code == Errc::invalid_flow);
  return flow.error().message;
}

} // namespace

TEST_CASE("a well-formed flow builds and lists its nodes in order") {
  auto flow = FlowBuilder("f").node("a", noop()).node("b", noop()).edge("a", "b").build();
  REQUIRE(flow.ok());
  CHECK(flow->name() == "f");
  CHECK(flow->node_names() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("an edge to a missing node names the edge and the node") {
  auto message = build_error(FlowBuilder("f").node("a", noop()).edge("a", "b", "next"));
  CHECK(message.find("edge a -[next]-> b: no node 'b'") != std::string::npos);
}

TEST_CASE("an edge from a missing node is reported") {
  auto message = build_error(FlowBuilder("f").node("a", noop()).edge("x", "a"));
  CHECK(message.find("no node 'x'") != std::string::npos);
}

TEST_CASE("an unknown start node is reported") {
  auto message = build_error(FlowBuilder("f").node("a", noop()).start("nope"));
  CHECK(message.find("start node 'nope' does not exist") != std::string::npos);
}

TEST_CASE("duplicate node names are reported") {
  auto message = build_error(FlowBuilder("f").node("a", noop()).node("a", noop()));
  CHECK(message.find("node 'a' is added twice") != std::string::npos);
}

TEST_CASE("two edges for one action from one node are reported") {
  auto message = build_error(FlowBuilder("f")
                                 .node("a", noop())
                                 .node("b", noop())
                                 .node("c", noop())
                                 .edge("a", "b", "go")
                                 .edge("a", "c", "go"));
  CHECK(message.find("already has an edge for action 'go' (to 'b')") != std::string::npos);
}

TEST_CASE("an empty flow, an empty factory and max_steps 0 are reported together") {
  SUBCASE("no nodes") {
    CHECK(build_error(FlowBuilder("f")).find("no nodes") != std::string::npos);
  }
  SUBCASE("several problems in one message") {
    auto message =
        build_error(FlowBuilder("f").node("a", NodeFactory{}).max_steps(0).edge("a", "zz"));
    CHECK(message.find("node 'a': factory is empty") != std::string::npos);
    CHECK(message.find("max_steps is 0") != std::string::npos);
    CHECK(message.find("no node 'zz'") != std::string::npos);
  }
}

TEST_CASE("the registry rejects duplicates and names unknown types with the known ones") {
  NodeRegistry registry;
  REQUIRE(registry.add("noop", noop()).ok());
  auto again = registry.add("noop", noop());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("registered twice") != std::string::npos);
  auto unknown = registry.make("nope");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "no registered node type 'nope' (known: noop)");
  CHECK(registry.make("noop").ok());
}
