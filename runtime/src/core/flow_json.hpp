#pragma once
// A flow graph as JSON, for viewers that have no Flow: a durable run records it when it begins,
// and `actorflow ui` draws it from the store. Its shape:
//
//   {"flow": "name", "start": "path",
//    "nodes": [{"path": "outer/inner", "name": "inner", "parent": "outer",
//               "kind": "node" | "batch" | "registered" | "flow",
//               "type": "registered type", "window": 8}, ...],
//    "edges": [{"from": "path", "to": "path", "action": "name"}, ...],
//    "starts": {"outer": "outer/first", ...}}
//
// A path is a node's name prefixed by its enclosing nested flows' names and '/', as the run's
// events and its batch items name it. A nested flow is a node of kind "flow" whose nodes name
// it as their "parent"; an edge into it points at it (it starts at its start node, which
// "starts" names). "type" is only in registered nodes, "window" only in
// batch nodes. The same graph always gives the same text.

#include "core/flow_graph.hpp"

#include <string>

namespace actorflow::detail {

[[nodiscard]] std::string flow_graph_json(const FlowGraph& graph);

} // namespace actorflow::detail
