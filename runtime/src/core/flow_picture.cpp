// Flows as pictures: one layout (ids, labels, where an edge into a nested flow lands), drawn
// by two writers, Mermaid and DOT, that differ only in syntax and in how an edge leaves a
// nested flow.
#include <actorflow/batch.hpp>
#include <actorflow/graph.hpp>

#include "core/flow_graph.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow {

namespace {

using detail::FlowGraph;
using detail::Vertex;

// One vertex as drawn. `inner` holds a nested flow's vertices, in its order.
struct Shape {
  const Vertex* vertex = nullptr;
  std::string id;   // "n3": names may hold any character, ids must not
  std::string note; // the label's second line: "(type)", "[batch, window 8]" or empty
  std::vector<Shape> inner;
  std::string entry; // where an edge into this vertex points: itself, or a nested start node

  [[nodiscard]] bool nested() const { return !inner.empty(); }
};

// "[batch, window N]" when the vertex's factory makes a ParallelBatchNode.
std::string batch_note(const Vertex& vertex) {
  const std::optional<std::size_t> window = detail::batch_window(vertex);
  if (!window)
    return {};
  return std::string("[batch, window ")
      .append(std::to_string(*window))
      .append("]"); // append: GCC 12 warns (-Wrestrict) on "literal" + std::string&&
}

// Ids are numbered depth first, so a nested flow's vertices follow its own id.
std::vector<Shape> lay_out(const FlowGraph& graph, std::size_t& next_id) {
  std::vector<Shape> shapes;
  shapes.reserve(graph.vertices.size());
  for (const auto& vertex : graph.vertices) {
    Shape shape;
    shape.vertex = &vertex;
    shape.id = std::string("n").append(std::to_string(next_id++));
    switch (vertex.kind) {
      case Vertex::Kind::factory:
        shape.note = batch_note(vertex);
        break;
      case Vertex::Kind::registered:
        shape.note = "(" + vertex.type_name + ")";
        break;
      case Vertex::Kind::sub_flow:
        shape.inner = lay_out(*vertex.sub_flow, next_id);
        break;
    }
    shape.entry = shape.nested() ? shape.inner.at(vertex.sub_flow->start).entry : shape.id;
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

struct Layout {
  std::vector<Shape> shapes;
  std::string entry; // the start node, where the start marker points
};

Layout lay_out(const Flow& flow) {
  const auto& graph = *detail::FlowAccess::graph(flow);
  std::size_t next_id = 0;
  Layout layout{lay_out(graph, next_id), {}};
  layout.entry = layout.shapes.at(graph.start).entry;
  return layout;
}

bool labelled(std::string_view action) { return action != default_action; }

std::string indent(std::size_t depth) { return std::string(2 * (depth + 1), ' '); }

// -- Mermaid ------------------------------------------------------------------------------------

// Text inside a quoted Mermaid label. Mermaid reads `#name;` as an entity, so `#` itself is
// one too; labels are HTML, hence `<`, `>` and `&`; a leading backtick would start Markdown.
std::string mermaid_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '#':
        out += "#35;";
        break;
      case '<':
        out += "#lt;";
        break;
      case '>':
        out += "#gt;";
        break;
      case '&':
        out += "#amp;";
        break;
      case '`':
        out += "#96;";
        break;
      case '\n':
        out += "<br>";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void mermaid_edges(const std::vector<Shape>& shapes, std::size_t depth, std::string& out);

// A subgraph's vertices before its edges: a Mermaid node belongs to the subgraph where it is
// first declared, and every edge names nodes that are declared by then.
void mermaid_nodes(const std::vector<Shape>& shapes, std::size_t depth, std::string& out) {
  const auto pad = indent(depth);
  for (const auto& shape : shapes) {
    const auto name = mermaid_text(shape.vertex->name);
    if (shape.nested()) {
      out.append(pad).append("subgraph ").append(shape.id).append(" [\"").append(name);
      out.append("\"]\n");
      mermaid_nodes(shape.inner, depth + 1, out);
      mermaid_edges(shape.inner, depth + 1, out);
      out.append(pad).append("end\n");
    } else {
      out.append(pad).append(shape.id).append("[\"").append(name);
      if (!shape.note.empty())
        out.append("<br>").append(mermaid_text(shape.note));
      out.append("\"]\n");
    }
  }
}

// An edge out of a nested flow starts at its subgraph: the nested flow's ending action picks
// it, whichever of its nodes ended it.
void mermaid_edges(const std::vector<Shape>& shapes, std::size_t depth, std::string& out) {
  const auto pad = indent(depth);
  for (const auto& shape : shapes)
    for (const auto& [action, to] : shape.vertex->edges) {
      out.append(pad).append(shape.id).append(" -->");
      if (labelled(action))
        out.append("|\"").append(mermaid_text(action)).append("\"|");
      out.append(" ").append(shapes.at(to).entry).append("\n");
    }
}

// -- DOT ----------------------------------------------------------------------------------------

// Text inside a quoted DOT string; `\` is escaped too, so that a name's `\n` or `\l` is not
// read as a line break.
std::string dot_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void dot_edges(const std::vector<Shape>& shapes, std::size_t depth, std::string& out);

void dot_nodes(const std::vector<Shape>& shapes, std::size_t depth, std::string& out) {
  const auto pad = indent(depth);
  for (const auto& shape : shapes) {
    const auto name = dot_text(shape.vertex->name);
    if (shape.nested()) {
      out.append(pad).append("subgraph cluster_").append(shape.id).append(" {\n");
      out.append(indent(depth + 1)).append("label=\"").append(name).append("\";\n");
      dot_nodes(shape.inner, depth + 1, out);
      dot_edges(shape.inner, depth + 1, out);
      out.append(pad).append("}\n");
    } else {
      out.append(pad).append(shape.id).append(" [label=\"").append(name);
      if (!shape.note.empty())
        out.append("\\n").append(dot_text(shape.note));
      out.append("\"];\n");
    }
  }
}

// DOT has no edge from a cluster: an edge out of a nested flow starts at its start node and
// is clipped at the cluster's border by `ltail`.
void dot_edges(const std::vector<Shape>& shapes, std::size_t depth, std::string& out) {
  const auto pad = indent(depth);
  for (const auto& shape : shapes) {
    for (const auto& [action, to] : shape.vertex->edges) {
      std::vector<std::string> attributes;
      if (labelled(action))
        attributes.push_back("label=\"" + dot_text(action) + "\"");
      if (shape.nested())
        attributes.push_back("ltail=cluster_" + shape.id);
      out.append(pad).append(shape.entry).append(" -> ").append(shapes.at(to).entry);
      for (std::size_t i = 0; i < attributes.size(); ++i)
        out.append(i == 0 ? " [" : ", ").append(attributes[i]);
      out.append(attributes.empty() ? ";\n" : "];\n");
    }
  }
}

} // namespace

std::string to_mermaid(const Flow& flow) {
  const auto layout = lay_out(flow);
  std::string out = "flowchart TD\n";
  out.append(indent(0)).append("start((start))\n");
  mermaid_nodes(layout.shapes, 0, out);
  out.append(indent(0)).append("start --> ").append(layout.entry).append("\n");
  mermaid_edges(layout.shapes, 0, out);
  return out;
}

std::string to_dot(const Flow& flow) {
  const auto layout = lay_out(flow);
  std::string out = "digraph \"" + dot_text(flow.name()) + "\" {\n";
  out.append(indent(0)).append("compound=true;\n");
  out.append(indent(0)).append("node [shape=box];\n");
  out.append(indent(0)).append("start [label=\"start\", shape=circle];\n");
  dot_nodes(layout.shapes, 0, out);
  out.append(indent(0)).append("start -> ").append(layout.entry).append(";\n");
  dot_edges(layout.shapes, 0, out);
  out += "}\n";
  return out;
}

} // namespace actorflow
