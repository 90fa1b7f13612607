// Flows as pictures: to_mermaid and to_dot compared with the whole expected text, so that a
// change of layout, escaping or edge order shows up as a diff; and the graph as the JSON a
// durable run records for viewers (core/flow_json.hpp), compared as parsed JSON.
#include <actorflow/actorflow.hpp>

#include "core/flow_graph.hpp"
#include "core/flow_json.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>

using namespace actorflow;

namespace {

class Summarise : public ParallelBatchNode {
public:
  Summarise() : ParallelBatchNode(BatchOptions{.max_concurrency = 8}) {}
};

NodeFactory pass() {
  return step_node([](State&) { return std::string(default_action); });
}

Flow build(const FlowBuilder& builder) {
  auto flow = builder.build();
  REQUIRE_MESSAGE(flow.ok(), (flow.ok() ? "" : flow.error().to_string()));
  return *flow;
}

// plan -> summarise (a batch, window 8) -> review (nested: draft -> check, "revise" back to
// draft) -"approved"-> publish (registered); review -"rejected"-> plan closes the cycle.
Flow editorial() {
  auto review = build(FlowBuilder("review-flow")
                          .node("draft", pass())
                          .node("check", pass())
                          .edge("draft", "check")
                          .edge("check", "draft", "revise"));
  return build(FlowBuilder("editorial")
                   .node("plan", pass())
                   .node<Summarise>("summarise")
                   .node("review", review)
                   .registered_node("publish", "publisher")
                   .edge("plan", "summarise")
                   .edge("summarise", "review")
                   .edge("review", "publish", "approved")
                   .edge("review", "plan", "rejected"));
}

} // namespace

TEST_CASE("to_mermaid draws nested flows as subgraphs, batch windows and non-default actions") {
  CHECK(to_mermaid(editorial()) == R"picture(flowchart TD
  start((start))
  n0["plan"]
  n1["summarise<br>[batch, window 8]"]
  subgraph n2 ["review"]
    n3["draft"]
    n4["check"]
    n3 --> n4
    n4 -->|"revise"| n3
  end
  n5["publish<br>(publisher)"]
  start --> n0
  n0 --> n1
  n1 --> n3
  n2 -->|"approved"| n5
  n2 -->|"rejected"| n0
)picture");
}

TEST_CASE("to_dot draws nested flows as clusters left through ltail") {
  CHECK(to_dot(editorial()) == R"picture(digraph "editorial" {
  compound=true;
  node [shape=box];
  start [label="start", shape=circle];
  n0 [label="plan"];
  n1 [label="summarise\n[batch, window 8]"];
  subgraph cluster_n2 {
    label="review";
    n3 [label="draft"];
    n4 [label="check"];
    n3 -> n4;
    n4 -> n3 [label="revise"];
  }
  n5 [label="publish\n(publisher)"];
  start -> n0;
  n0 -> n1;
  n1 -> n3;
  n3 -> n5 [label="approved", ltail=cluster_n2];
  n3 -> n0 [label="rejected", ltail=cluster_n2];
}
)picture");
}

TEST_CASE("a nested flow that starts the outer one takes the start arrow to its own start") {
  // The inner flow starts at its second node, and the inner-inner flow is the outer's start.
  auto inner = build(FlowBuilder("inner").node("a", pass()).node("b", pass()).start("b"));
  auto middle = build(FlowBuilder("middle").node("inner", inner));
  auto outer =
      build(FlowBuilder("outer").node("middle", middle).node("z", pass()).edge("middle", "z"));
  CHECK(to_mermaid(outer) == R"picture(flowchart TD
  start((start))
  subgraph n0 ["middle"]
    subgraph n1 ["inner"]
      n2["a"]
      n3["b"]
    end
  end
  n4["z"]
  start --> n3
  n0 --> n4
)picture");
  CHECK(to_dot(outer) == R"picture(digraph "outer" {
  compound=true;
  node [shape=box];
  start [label="start", shape=circle];
  subgraph cluster_n0 {
    label="middle";
    subgraph cluster_n1 {
      label="inner";
      n2 [label="a"];
      n3 [label="b"];
    }
  }
  n4 [label="z"];
  start -> n3;
  n3 -> n4 [ltail=cluster_n0];
}
)picture");
}

TEST_CASE("names and actions are escaped for each format, ids stay plain") {
  auto flow = build(FlowBuilder(R"(say "hi")")
                        .node(R"(say "hi" \o/)", pass())
                        .node("<b>#1 & co</b>", pass())
                        .edge(R"(say "hi" \o/)", "<b>#1 & co</b>", R"(a "quoted" action)"));
  CHECK(to_mermaid(flow) == R"picture(flowchart TD
  start((start))
  n0["say #quot;hi#quot; \o/"]
  n1["#lt;b#gt;#35;1 #amp; co#lt;/b#gt;"]
  start --> n0
  n0 -->|"a #quot;quoted#quot; action"| n1
)picture");
  CHECK(to_dot(flow) == R"picture(digraph "say \"hi\"" {
  compound=true;
  node [shape=box];
  start [label="start", shape=circle];
  n0 [label="say \"hi\" \\o/"];
  n1 [label="<b>#1 & co</b>"];
  start -> n0;
  n0 -> n1 [label="a \"quoted\" action"];
}
)picture");
}

TEST_CASE("a factory that throws or makes no node is drawn as a plain node") {
  NodeFactory throws = []() -> std::unique_ptr<Node> { throw std::runtime_error("no model here"); };
  NodeFactory null = []() -> std::unique_ptr<Node> { return nullptr; };
  auto flow = build(FlowBuilder("odd")
                        .node("throws", throws)
                        .node("null", null)
                        .node<BatchNode>("one by one")
                        .edge("throws", "null")
                        .edge("null", "one by one"));
  CHECK(to_mermaid(flow) == R"picture(flowchart TD
  start((start))
  n0["throws"]
  n1["null"]
  n2["one by one<br>[batch, window 1]"]
  start --> n0
  n0 --> n1
  n1 --> n2
)picture");
}

TEST_CASE("a flow's graph as JSON names every node by path, nested flows as groups") {
  const Flow flow = editorial();
  const auto json =
      nlohmann::json::parse(detail::flow_graph_json(*detail::FlowAccess::graph(flow)));
  CHECK(json == nlohmann::json::parse(R"({
    "flow": "editorial", "start": "plan",
    "nodes": [
      {"path": "plan", "name": "plan", "parent": "", "kind": "node"},
      {"path": "summarise", "name": "summarise", "parent": "", "kind": "batch", "window": 8},
      {"path": "review", "name": "review", "parent": "", "kind": "flow"},
      {"path": "review/draft", "name": "draft", "parent": "review", "kind": "node"},
      {"path": "review/check", "name": "check", "parent": "review", "kind": "node"},
      {"path": "publish", "name": "publish", "parent": "", "kind": "registered",
       "type": "publisher"}],
    "edges": [
      {"from": "plan", "to": "summarise", "action": "default"},
      {"from": "summarise", "to": "review", "action": "default"},
      {"from": "review", "to": "publish", "action": "approved"},
      {"from": "review", "to": "plan", "action": "rejected"},
      {"from": "review/draft", "to": "review/check", "action": "default"},
      {"from": "review/check", "to": "review/draft", "action": "revise"}],
    "starts": {"review": "review/draft"}})"));
}
