#pragma once
// `actorflow ui`'s flow pictures: the graph a run recorded (JSON, core/flow_json.hpp's shape)
// drawn by Graphviz. The tool writes DOT and runs `dot -Tsvg`, which lays the nodes out in
// layers with nested flows as clusters and writes every node's name as SVG text; nothing to
// ship to the browser, and nothing needs a network.

#include <actorflow/result.hpp>

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace actorflow::tools {

/// `graph_json` as a Graphviz digraph. Nodes are "n0", "n1", ... in the JSON's order (so a
/// page can map an SVG node back to its path), each labelled with its name (and "(type)" or
/// "[batch, window N]"), with the SVG class "batch" on batch nodes; a nested flow is a
/// `subgraph cluster_nK`. `next_node` (a root-flow node, `RunRecord::next_node`; "" none) is
/// drawn filled and bold with the SVG id "next". Errors (bad_input): the JSON does not parse or
/// lacks the graph's fields.
[[nodiscard]] Result<std::string> graph_dot(const std::string& graph_json,
                                            const std::string& next_node);

/// Runs Graphviz's `dot -Tsvg` on DOT text, for at most `timeout_ms`. Errors: unavailable when
/// `dot` is not on the PATH (naming the package), fails or takes too long (naming why).
[[nodiscard]] Result<std::string> render_svg(const std::string& dot, int timeout_ms = 10'000);

/// SVGs already drawn, by (run id, next node): a run's graph never changes, and the next node
/// only as the run moves. Bounded; thread-safe.
class SvgCache {
public:
  /// The SVG of `run_id`'s graph with `next_node` marked, drawn on a miss by `draw`.
  template <class Draw>
  Result<std::string> get(const std::string& run_id, const std::string& next_node, Draw draw) {
    auto key = std::make_pair(run_id, next_node);
    {
      std::lock_guard lock(mutex_);
      if (auto found = svgs_.find(key); found != svgs_.end())
        return found->second;
    }
    Result<std::string> drawn = draw(); // outside the lock: dot takes milliseconds
    if (!drawn)
      return drawn;
    std::lock_guard lock(mutex_);
    if (svgs_.size() >= max_entries)
      svgs_.clear(); // a viewer's working set is small; forgetting all at once is simplest
    svgs_.emplace(std::move(key), *drawn);
    return drawn;
  }

private:
  static constexpr std::size_t max_entries = 256;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::string> svgs_; // guarded by mutex_
};

} // namespace actorflow::tools
