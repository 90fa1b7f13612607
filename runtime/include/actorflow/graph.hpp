#pragma once
/// Flows as pictures: a `Flow` as Mermaid or Graphviz DOT text, so that its shape can be read
/// (in a README, a review, a terminal) without running it or reading the code that built it.

#include <actorflow/flow.hpp>

#include <string>

namespace actorflow {

/// `flow` as a Mermaid `flowchart TD` (GitHub renders it in a ```mermaid block).
///
/// What the picture shows, in both formats:
/// - every node, labelled with its name; a registered node adds its type ("name\n(type)"), and
///   a node whose factory makes a `ParallelBatchNode` adds its window ("name\n[batch, window
///   8]"). To find out, each factory is called once and the node is dropped unused; a factory
///   that throws or returns null is drawn as a plain node.
/// - a nested flow as a subgraph labelled with its node's name, recursively. An edge into it
///   points at its start node (where it starts); an edge out of it leaves the subgraph as a
///   whole, because the nested flow's ending action, whichever node returned it, picks that
///   edge.
/// - every edge, labelled with its action unless the action is "default" (`default_action`,
///   the plain edge of `FlowBuilder::edge`): the labels are the branches.
/// - the start: an arrow from a "start" circle to the start node.
///
/// A flow-shaped batch (`map_states`, `parallel_batch_flow`, ...) is a batch node here: the flow
/// it runs per item is hidden in its factory.
///
/// Ids are generated ("n0", "n1", ... in the order the nodes were added, depth first through
/// nested flows; "start" for the marker), so names may hold any character; labels are escaped
/// (`#quot;` for a quote; `#lt;`, `#gt;`, `#amp;`, `#35;`, `#96;` for `<`, `>`, `&`, `#` and a
/// backtick; a line break in a name becomes `<br>`). Edges leave a node in the order of their
/// actions. The same flow always gives the same text. Safe to call from any thread, as a run's
/// factory calls are.
[[nodiscard]] std::string to_mermaid(const Flow& flow);

/// `flow` as a Graphviz `digraph` (`dot -Tsvg flow.dot > flow.svg`), drawn as `to_mermaid`
/// draws it: a nested flow is a `subgraph cluster_nK` (nK: its node's id). Graphviz has no edge
/// from a cluster, so an edge out of a nested flow is drawn from its start node with
/// `ltail=cluster_nK`, which clips it at the cluster's border (the graph sets `compound=true`
/// for that). Labels escape `\` and `"` with a backslash; a line break in a name becomes `\n`.
[[nodiscard]] std::string to_dot(const Flow& flow);

} // namespace actorflow
