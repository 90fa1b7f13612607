#include "ui_graph.hpp"

#include "subprocess.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

namespace actorflow::tools {

namespace {

// A DOT string's text: quotes and backslashes escaped, a line break as DOT's centred "\n".
std::string dot_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

struct GraphNode {
  std::string id; // "nK"
  std::string path, name, parent, kind, note;
  bool nested = false;
};

Error malformed(std::string_view why) {
  return Error{Errc::bad_input, std::string("the recorded graph is malformed: ").append(why)};
}

// The node an edge into `path` points at: itself, or (a nested flow) its start, recursively.
std::string entry_of(const std::map<std::string, std::size_t>& by_path,
                     const std::vector<GraphNode>& nodes, const nlohmann::json& starts,
                     std::string path) {
  for (int depth = 0; depth < 64; ++depth) { // nested flows are finite; a bad file is not
    auto at = by_path.find(path);
    if (at == by_path.end() || !nodes[at->second].nested)
      break;
    auto start = starts.find(path);
    if (start == starts.end() || !start->is_string())
      break;
    path = start->get<std::string>();
  }
  return path;
}

void write_nodes(const std::vector<GraphNode>& nodes, const std::string& parent,
                 const std::string& next_node, int depth, std::string& out) {
  const std::string pad(static_cast<std::size_t>(2 * depth + 2), ' ');
  for (const GraphNode& node : nodes) {
    if (node.parent != parent)
      continue;
    const bool next = parent.empty() && !next_node.empty() && node.name == next_node;
    if (node.nested) {
      out += pad + "subgraph cluster_" + node.id + " {\n";
      out += pad + "  label=" + dot_string(node.name) +
             "; style=\"rounded,dashed\"; color=\"#8a94a6\";";
      if (next)
        out += " style=\"rounded,filled,bold\"; fillcolor=\"#fff3c4\"; id=\"af-next\";";
      out += "\n";
      write_nodes(nodes, node.path, next_node, depth + 1, out);
      out += pad + "}\n";
      continue;
    }
    std::string label = node.name;
    if (!node.note.empty())
      label += "\n" + node.note;
    out += pad + node.id + " [label=" + dot_string(label);
    if (node.kind == "batch")
      out += ", class=\"batch\", shape=box3d";
    if (next)
      out += ", id=\"af-next\", class=\"next\", fillcolor=\"#ffd666\", penwidth=2.5";
    out += "];\n";
  }
}

} // namespace

Result<std::string> graph_dot(const std::string& graph_json, const std::string& next_node) {
  const nlohmann::json graph = nlohmann::json::parse(graph_json, nullptr, false);
  if (graph.is_discarded() || !graph.is_object())
    return malformed("not a JSON object");
  const auto nodes_in = graph.find("nodes");
  const auto edges_in = graph.find("edges");
  if (nodes_in == graph.end() || !nodes_in->is_array() || edges_in == graph.end() ||
      !edges_in->is_array())
    return malformed("no \"nodes\" or \"edges\" array");
  const nlohmann::json starts = graph.value("starts", nlohmann::json::object());

  std::vector<GraphNode> nodes;
  std::map<std::string, std::size_t> by_path;
  for (const nlohmann::json& in : *nodes_in) {
    if (!in.is_object() || !in.contains("path") || !in["path"].is_string())
      return malformed("a node without a \"path\"");
    GraphNode node;
    node.id = "n" + std::to_string(nodes.size());
    node.path = in["path"].get<std::string>();
    node.name = in.value("name", node.path);
    node.parent = in.value("parent", "");
    node.kind = in.value("kind", "node");
    node.nested = node.kind == "flow";
    if (node.kind == "registered")
      node.note = "(" + in.value("type", "") + ")";
    else if (node.kind == "batch" && in.contains("window") && in["window"].is_number_unsigned())
      node.note = "[batch, window " + std::to_string(in["window"].get<std::uint64_t>()) + "]";
    by_path.emplace(node.path, nodes.size());
    nodes.push_back(std::move(node));
  }

  std::string out =
      "digraph flow {\n"
      "  graph [compound=true, rankdir=TB, nodesep=0.35, ranksep=0.45, "
      "fontname=\"Helvetica\", fontsize=11, bgcolor=\"transparent\"];\n"
      "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", "
      "color=\"#4a5568\", fontname=\"Helvetica\", fontsize=11, margin=\"0.12,0.06\"];\n"
      "  edge [color=\"#4a5568\", fontname=\"Helvetica\", fontsize=10];\n"
      "  start [shape=circle, label=\"start\", fillcolor=\"#e2e8f0\", fontsize=9, "
      "width=0.45, fixedsize=true];\n";
  write_nodes(nodes, "", next_node, 0, out);

  auto id_of = [&](const std::string& path) -> std::optional<std::string> {
    auto at = by_path.find(entry_of(by_path, nodes, starts, path));
    if (at == by_path.end() || nodes[at->second].nested)
      return std::nullopt; // an empty nested flow: nothing to point at
    return nodes[at->second].id;
  };
  auto cluster_of = [&](const std::string& path) -> std::string {
    auto at = by_path.find(path);
    return at != by_path.end() && nodes[at->second].nested ? "cluster_" + nodes[at->second].id
                                                           : std::string();
  };
  if (auto start = id_of(graph.value("start", "")))
    out += "  start -> " + *start + ";\n";
  for (const nlohmann::json& edge : *edges_in) {
    if (!edge.is_object())
      return malformed("an edge that is not an object");
    const std::string from = edge.value("from", ""), to = edge.value("to", "");
    const auto from_id = id_of(from), to_id = id_of(to);
    if (!from_id || !to_id)
      continue;
    std::vector<std::string> attributes;
    if (const std::string action = edge.value("action", "default"); action != "default")
      attributes.push_back("label=" + dot_string(action));
    if (const std::string tail = cluster_of(from); !tail.empty())
      attributes.push_back("ltail=" + tail);
    if (const std::string head = cluster_of(to); !head.empty())
      attributes.push_back("lhead=" + head);
    out += "  " + *from_id + " -> " + *to_id;
    for (std::size_t i = 0; i < attributes.size(); ++i)
      out += (i == 0 ? " [" : ", ") + attributes[i];
    out += attributes.empty() ? ";\n" : "];\n";
  }
  out += "}\n";
  return out;
}

namespace {

// `dot` on the PATH, as a shell would find it (Subprocess takes a path).
std::optional<std::string> find_dot() {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    std::string candidate(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    candidate += candidate.empty() ? "dot" : "/dot";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

// A temporary file that holds `text` and is removed with this object.
class TempFile {
public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/actorflow-ui-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0)
      return;
    path_ = name;
    std::size_t written = 0;
    while (written < text.size()) {
      const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
      if (n <= 0)
        break;
      written += static_cast<std::size_t>(n);
    }
    ::close(fd);
    complete_ = written == text.size();
  }
  ~TempFile() {
    if (!path_.empty())
      std::remove(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  [[nodiscard]] bool ok() const noexcept { return complete_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
  bool complete_ = false;
};

} // namespace

Result<std::string> render_svg(const std::string& dot, int timeout_ms) {
  const std::optional<std::string> program = find_dot();
  if (!program)
    return Error{Errc::unavailable,
                 "Graphviz's `dot` is not on the PATH (Debian: apt-get install graphviz)"};
  const TempFile input(dot);
  if (!input.ok())
    return Error{Errc::unavailable, "dot: cannot write its input to /tmp"};
  Result<Subprocess> started = Subprocess::start({*program, "-Tsvg", input.path()});
  if (!started)
    return started.error();
  Subprocess& child = *started;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string svg;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return Error{Errc::deadline_exceeded,
                   "dot took longer than " + std::to_string(timeout_ms) + " ms"};
    std::optional<std::string> line = child.read_line(left);
    if (!line)
      break; // its stdout closed (or the deadline passed: wait_exit tells)
    svg += *line;
    svg += '\n';
  }
  int status = 0;
  if (!child.wait_exit(std::chrono::milliseconds(1000), &status))
    return Error{Errc::deadline_exceeded,
                 "dot took longer than " + std::to_string(timeout_ms) + " ms"};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error{Errc::unavailable,
                 "dot failed (exit status " +
                     std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                     "); its stderr says why"};
  // Graphviz starts with an XML prolog and a DOCTYPE; a page that inlines the SVG wants only
  // the <svg> element.
  if (const auto at = svg.find("<svg"); at != std::string::npos)
    svg.erase(0, at);
  return svg;
}

} // namespace actorflow::tools
