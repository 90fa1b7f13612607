#pragma once
/// `Flow`: nodes joined by edges labelled with actions; a flow can stand where a node can.

#include <actorflow/node.hpp>
#include <actorflow/result.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace actorflow {

namespace detail {
struct FlowGraph;
struct FlowAccess;
struct BuilderGraph;
} // namespace detail

/// A validated, immutable flow graph. Cheap to copy (shared); safe to run many times at once,
/// from any thread, on any number of Runtimes.
///
/// Running: from the start node, each node runs in its own actor with the current State; its
/// action picks the edge to the next node. The flow ends when a node's action has no edge. A
/// node with other edges but none for its action also ends the flow, and the run's warnings
/// say so. A flow that runs more than `max_steps` nodes fails with `Errc::step_limit`.
class Flow {
public:
  [[nodiscard]] const std::string& name() const noexcept;
  /// Node names in the order they were added.
  [[nodiscard]] std::vector<std::string> node_names() const;

private:
  friend class FlowBuilder;
  friend struct detail::FlowAccess; // the runtime's way to the graph it executes
  explicit Flow(std::shared_ptr<const detail::FlowGraph> graph) : graph_(std::move(graph)) {}
  std::shared_ptr<const detail::FlowGraph> graph_;
};

/// Builds a `Flow`. Mistakes are reported by `build()`, all at once, each naming the node or
/// edge at fault.
class FlowBuilder {
public:
  explicit FlowBuilder(std::string flow_name);
  FlowBuilder(FlowBuilder&&) noexcept;
  FlowBuilder& operator=(FlowBuilder&&) noexcept;
  ~FlowBuilder();

  /// A node made by `factory` for every execution.
  FlowBuilder& node(std::string name, NodeFactory factory);
  /// A node of class `N`, constructed from copies of `args` for every execution.
  template <class N, class... Args>
  FlowBuilder& node(std::string name, Args... args) {
    return node(std::move(name), factory_of<N>(std::move(args)...));
  }
  /// A nested flow: it gets the current State and its ending action picks the outer edge.
  FlowBuilder& node(std::string name, Flow sub_flow);
  /// A node whose type is looked up by name in the running Runtime's `NodeRegistry`
  /// (checked when the run starts: an unknown type fails the run with invalid_flow).
  FlowBuilder& registered_node(std::string name, std::string type_name);

  /// An edge taken when `from` returns `action`.
  FlowBuilder& edge(std::string from, std::string to, std::string action = "default");
  /// The first node to run. Default: the first node added.
  FlowBuilder& start(std::string name);
  /// Fails a run that executes more than `steps` nodes of this flow (cycles are allowed; an
  /// endless one is not). Default: 10,000.
  FlowBuilder& max_steps(std::size_t steps);
  /// How the exec of node `name` is retried (a node's own policy, set in its class, wins).
  FlowBuilder& retry(std::string name, RetryPolicy policy);
  /// The retry policy of every node of this flow that has none of its own or from `retry`.
  FlowBuilder& default_retry(RetryPolicy policy);
  /// A time limit for each run of this flow (also as a nested flow, where the parent's
  /// deadline still applies: the earlier one wins). Over it, the flow's actors stop and it
  /// fails with `deadline_exceeded`. Default: none.
  FlowBuilder& deadline(std::chrono::milliseconds limit);

  /// The flow, or an `invalid_flow` error listing every problem (unknown start node, edge to
  /// or from a missing node, duplicate node names, two edges for one action, empty names).
  [[nodiscard]] Result<Flow> build() const;

private:
  std::unique_ptr<detail::BuilderGraph> graph_;
  std::vector<std::string> problems_; // found while adding; reported by build()
};

} // namespace actorflow
