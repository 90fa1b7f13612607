#include <actorflow/batch.hpp>
#include <actorflow/flow.hpp>

#include "core/flow_graph.hpp"

#include <set>
#include <utility>

namespace actorflow {

namespace {

struct EdgeSpec {
  std::string from, to, action;
};

} // namespace

namespace detail {

// The builder keeps raw edges until build(): edges may name nodes added later.
struct BuilderGraph : FlowGraph {
  std::vector<EdgeSpec> edge_specs;
  std::string start_name;
  std::vector<std::pair<std::string, RetryPolicy>> retries; // by node name, applied in build()
  std::optional<RetryPolicy> default_retry;
};

std::vector<std::string> missing_node_types(const FlowGraph& graph, const NodeRegistry& registry) {
  std::vector<std::string> missing;
  for (const auto& v : graph.vertices) {
    if (v.kind == Vertex::Kind::registered && !registry.contains(v.type_name))
      missing.push_back("flow '" + graph.name + "' node '" + v.name +
                        "': no registered node type '" + v.type_name + "'");
    if (v.kind == Vertex::Kind::sub_flow)
      for (auto& line : missing_node_types(*v.sub_flow, registry))
        missing.push_back(std::move(line));
  }
  return missing;
}

std::optional<std::size_t> batch_window(const Vertex& vertex) {
  if (!vertex.factory)
    return std::nullopt;
  try {
    auto node = vertex.factory();
    if (const auto* batch = dynamic_cast<const ParallelBatchNode*>(node.get()))
      return batch->batch_options().max_concurrency;
  } catch (...) {
    // A factory that cannot make a node outside a run is drawn as a plain node.
  }
  return std::nullopt;
}

} // namespace detail

const std::string& Flow::name() const noexcept { return graph_->name; }

std::vector<std::string> Flow::node_names() const {
  std::vector<std::string> names;
  for (const auto& v : graph_->vertices)
    names.push_back(v.name);
  return names;
}

// -- builder ------------------------------------------------------------------------------------

FlowBuilder::FlowBuilder(std::string flow_name) : graph_(std::make_unique<detail::BuilderGraph>()) {
  graph_->name = std::move(flow_name);
}
FlowBuilder::FlowBuilder(FlowBuilder&&) noexcept = default;
FlowBuilder& FlowBuilder::operator=(FlowBuilder&&) noexcept = default;
FlowBuilder::~FlowBuilder() = default;

FlowBuilder& FlowBuilder::node(std::string name, NodeFactory factory) {
  if (!factory)
    problems_.push_back("node '" + name + "': factory is empty");
  detail::Vertex v;
  v.name = std::move(name);
  v.kind = detail::Vertex::Kind::factory;
  v.factory = std::move(factory);
  graph_->vertices.push_back(std::move(v));
  return *this;
}

FlowBuilder& FlowBuilder::node(std::string name, Flow sub_flow) {
  detail::Vertex v;
  v.name = std::move(name);
  v.kind = detail::Vertex::Kind::sub_flow;
  v.sub_flow = detail::FlowAccess::graph(sub_flow);
  graph_->vertices.push_back(std::move(v));
  return *this;
}

FlowBuilder& FlowBuilder::registered_node(std::string name, std::string type_name) {
  detail::Vertex v;
  v.name = std::move(name);
  v.kind = detail::Vertex::Kind::registered;
  v.type_name = std::move(type_name);
  graph_->vertices.push_back(std::move(v));
  return *this;
}

FlowBuilder& FlowBuilder::edge(std::string from, std::string to, std::string action) {
  graph_->edge_specs.push_back({std::move(from), std::move(to), std::move(action)});
  return *this;
}

FlowBuilder& FlowBuilder::start(std::string name) {
  graph_->start_name = std::move(name);
  return *this;
}

FlowBuilder& FlowBuilder::max_steps(std::size_t steps) {
  if (steps == 0)
    problems_.push_back("max_steps is 0: no node could ever run");
  graph_->max_steps = steps;
  return *this;
}

FlowBuilder& FlowBuilder::retry(std::string name, RetryPolicy policy) {
  graph_->retries.emplace_back(std::move(name), std::move(policy));
  return *this;
}

FlowBuilder& FlowBuilder::deadline(std::chrono::milliseconds limit) {
  if (limit.count() < 0)
    problems_.push_back("deadline is negative");
  graph_->deadline = limit;
  return *this;
}

FlowBuilder& FlowBuilder::default_retry(RetryPolicy policy) {
  graph_->default_retry = std::move(policy);
  return *this;
}

Result<Flow> FlowBuilder::build() const {
  const auto& spec = *graph_;
  auto problems = problems_;
  auto graph = std::make_shared<detail::FlowGraph>();
  graph->name = spec.name;
  graph->max_steps = spec.max_steps;
  graph->deadline = spec.deadline;
  graph->vertices = spec.vertices;

  if (spec.name.empty())
    problems.push_back("the flow has no name");
  if (spec.vertices.empty())
    problems.push_back("the flow has no nodes");

  std::map<std::string, std::size_t, std::less<>> index;
  for (std::size_t i = 0; i < spec.vertices.size(); ++i) {
    const auto& name = spec.vertices[i].name;
    if (name.empty())
      problems.push_back("node #" + std::to_string(i + 1) + " has no name");
    else if (!index.emplace(name, i).second)
      problems.push_back("node '" + name + "' is added twice");
  }

  for (const auto& e : spec.edge_specs) {
    auto label = "edge " + e.from + " -[" + e.action + "]-> " + e.to;
    auto from = index.find(e.from);
    auto to = index.find(e.to);
    if (from == index.end())
      problems.push_back(label + ": no node '" + e.from + "'");
    if (to == index.end())
      problems.push_back(label + ": no node '" + e.to + "'");
    if (e.action.empty())
      problems.push_back(label + ": the action is empty");
    if (from == index.end() || to == index.end() || e.action.empty())
      continue;
    auto& edges = graph->vertices[from->second].edges;
    auto [it, added] = edges.emplace(e.action, to->second);
    if (!added && it->second != to->second)
      problems.push_back(label + ": node '" + e.from + "' already has an edge for action '" +
                         e.action + "' (to '" + graph->vertices[it->second].name + "')");
  }

  for (auto& vertex : graph->vertices)
    if (vertex.kind != detail::Vertex::Kind::sub_flow)
      vertex.retry = spec.default_retry;
  for (const auto& [name, policy] : spec.retries) {
    auto node = index.find(name);
    if (node == index.end())
      problems.push_back("retry policy for node '" + name + "': no such node");
    else if (graph->vertices[node->second].kind == detail::Vertex::Kind::sub_flow)
      problems.push_back("retry policy for node '" + name +
                         "': it is a nested flow (give its own nodes policies)");
    else
      graph->vertices[node->second].retry = policy;
  }
  for (const auto& [name, policy] : spec.retries)
    if (policy.max_attempts == 0)
      problems.push_back("retry policy for node '" + name + "': max_attempts is 0");
  if (spec.default_retry && spec.default_retry->max_attempts == 0)
    problems.push_back("default retry policy: max_attempts is 0");

  if (!spec.start_name.empty()) {
    auto s = index.find(spec.start_name);
    if (s == index.end())
      problems.push_back("start node '" + spec.start_name + "' does not exist");
    else
      graph->start = s->second;
  }

  if (!problems.empty()) {
    std::string message = "flow '" + spec.name + "': ";
    for (std::size_t i = 0; i < problems.size(); ++i)
      message += (i ? "; " : "") + problems[i];
    return Error{Errc::invalid_flow, std::move(message)};
  }
  return Flow(std::move(graph));
}

} // namespace actorflow
