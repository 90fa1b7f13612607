#pragma once
// The executable form of a Flow, shared by the builder (which fills it) and the flow actor
// (which walks it). Immutable once built.

#include <actorflow/flow.hpp>
#include <actorflow/node.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorflow::detail {

struct FlowGraph;

struct Vertex {
  enum class Kind { factory, sub_flow, registered };

  std::string name;
  Kind kind = Kind::factory;
  NodeFactory factory;                                   // kind == factory
  std::shared_ptr<const FlowGraph> sub_flow;             // kind == sub_flow
  std::string type_name;                                 // kind == registered
  std::optional<RetryPolicy> retry;                      // from FlowBuilder::retry or default_retry
  std::map<std::string, std::size_t, std::less<>> edges; // action -> vertex index
};

struct FlowGraph {
  std::string name;
  std::vector<Vertex> vertices;
  std::size_t start = 0;
  std::size_t max_steps = 10'000;
  std::chrono::milliseconds deadline{0}; // from the flow's start; zero: none
};

/// The graph a Flow holds (flow.hpp keeps it out of the public API).
struct FlowAccess {
  static const std::shared_ptr<const FlowGraph>& graph(const Flow& flow) noexcept {
    return flow.graph_;
  }
};

/// Every registered type name used by `graph` or its nested flows that `registry` lacks,
/// as "flow 'f' node 'n': no registered node type 't'" lines.
std::vector<std::string> missing_node_types(const FlowGraph& graph, const NodeRegistry& registry);

/// The window of the ParallelBatchNode that `vertex`'s factory makes; none for any other node.
/// The window is set in the node's constructor, so the only way to it is to make one (and drop
/// it unused); a factory that throws or returns null gives none.
std::optional<std::size_t> batch_window(const Vertex& vertex);

} // namespace actorflow::detail
