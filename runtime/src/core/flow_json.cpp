#include "core/flow_json.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>

namespace actorflow::detail {

namespace {

const char* kind_name(const Vertex& vertex, bool batch) {
  switch (vertex.kind) {
    case Vertex::Kind::registered:
      return "registered";
    case Vertex::Kind::sub_flow:
      return "flow";
    case Vertex::Kind::factory:
      break;
  }
  return batch ? "batch" : "node";
}

// Adds `graph`'s nodes and edges, its paths under `prefix` ("" at the root, else "outer/").
void add_graph(const FlowGraph& graph, const std::string& parent, const std::string& prefix,
               nlohmann::json& out) {
  for (const Vertex& vertex : graph.vertices) {
    const std::string path = prefix + vertex.name;
    const std::optional<std::size_t> window = batch_window(vertex);
    nlohmann::json node = {{"path", path},
                           {"name", vertex.name},
                           {"parent", parent},
                           {"kind", kind_name(vertex, window.has_value())}};
    if (vertex.kind == Vertex::Kind::registered)
      node["type"] = vertex.type_name;
    if (window)
      node["window"] = *window;
    out["nodes"].push_back(std::move(node));
    for (const auto& [action, target] : vertex.edges)
      out["edges"].push_back(
          {{"from", path}, {"to", prefix + graph.vertices[target].name}, {"action", action}});
    if (vertex.kind == Vertex::Kind::sub_flow) {
      const FlowGraph& inner = *vertex.sub_flow;
      out["starts"][path] = path + "/" + inner.vertices.at(inner.start).name;
      add_graph(inner, path, path + "/", out);
    }
  }
}

} // namespace

std::string flow_graph_json(const FlowGraph& graph) {
  nlohmann::json out = {
      {"flow", graph.name},
      {"start", graph.vertices.empty() ? std::string() : graph.vertices.at(graph.start).name},
      {"nodes", nlohmann::json::array()},
      {"edges", nlohmann::json::array()},
      {"starts", nlohmann::json::object()}};
  add_graph(graph, "", "", out);
  // Names are the user's: a name that is not UTF-8 is replaced, not refused.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace actorflow::detail
