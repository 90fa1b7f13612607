// `actorflow bench cluster`: one batch of the stock "echo" node over N items, in one process,
// three ways: here only, here and on `--nodes` node processes (started for the purpose, on
// loopback), and on the nodes only. On one machine loopback adds cost: the figures are the
// overhead of a remote item, not a speed-up.

#include <actorflow/stock_nodes.hpp>

#include "bench.hpp"
#include "bench_common.hpp"
#include "rss.hpp"
#include "subprocess.hpp"

#include <optional>
#include <string>
#include <vector>

namespace actorflow::tools {

namespace {

struct ClusterRun {
  Result<RunResult> result;
  double wall_s = 0;
  std::vector<NodeStatus> nodes;
};

ClusterRun run_echo(const ClusterBenchOptions& options, const State& items,
                    std::vector<std::string> nodes, std::optional<std::size_t> local_capacity) {
  RuntimeConfig config{.worker_threads = options.workers};
  config.cluster.nodes = std::move(nodes);
  config.cluster.local_capacity = local_capacity;
  if (auto registered =
          register_stock_nodes(config.nodes, BatchOptions{.max_concurrency = options.concurrency});
      !registered)
    return {registered.error(), 0, {}};
  Runtime runtime{std::move(config)};
  for (const auto& node : runtime.cluster_status())
    if (!node.connected)
      return {Error{Errc::connection_failed, node.address + ": " + node.last_error}, 0, {}};
  auto flow = FlowBuilder("bench").registered_node("batch", "echo").build();
  if (!flow)
    return {flow.error(), 0, {}};
  auto t0 = BenchClock::now();
  auto result = runtime.run(*flow, items).get();
  return {std::move(result), seconds_since(t0), runtime.cluster_status()};
}

} // namespace

int bench_cluster(const ClusterBenchOptions& options) {
  std::vector<ListeningChild> processes;
  std::vector<std::string> addresses;
  for (std::size_t i = 0; i < options.nodes; ++i) {
    auto child = ListeningChild::start("/proc/self/exe", "node",
                                       {"--workers", std::to_string(options.node_workers)});
    if (!child)
      return bench_failed("cluster", child.error());
    addresses.push_back("127.0.0.1:" + std::to_string(child->port));
    processes.push_back(std::move(*child));
  }
  Array values;
  values.reserve(options.items);
  for (std::size_t i = 0; i < options.items; ++i)
    values.emplace_back(static_cast<std::int64_t>(i));
  const State items = State{}.with("items", std::move(values));

  auto local = run_echo(options, items, {}, std::nullopt);
  auto cluster = run_echo(options, items, addresses, std::nullopt);
  auto remote = run_echo(options, items, addresses, 0);
  for (auto* run : {&local, &cluster, &remote})
    if (!run->result)
      return bench_failed("cluster", run->result.error());

  // Every item back once, with its own value, and no failure.
  auto correct = [&](const ClusterRun& run) {
    const auto& state = run.result->state;
    const auto& results = state.at("results").as_array();
    if (state.at("failed").as_int() != 0 || results.size() != options.items)
      return false;
    for (std::size_t i = 0; i < results.size(); ++i)
      if (!results[i].is_int() || results[i].as_int() != static_cast<std::int64_t>(i))
        return false;
    return true;
  };
  const bool ok = correct(local) && correct(cluster) && correct(remote);
  const auto n = static_cast<double>(options.items);
  return print_report(
      Value::object({{"scenario", "cluster"},
                     {"items", options.items},
                     {"nodes", options.nodes},
                     {"concurrency", options.concurrency},
                     {"workers", options.workers},
                     {"node_workers", options.node_workers},
                     {"wall_s_local_only", local.wall_s},
                     {"wall_s_cluster", cluster.wall_s},
                     {"wall_s_nodes_only", remote.wall_s},
                     {"items_per_s_local_only", n / local.wall_s},
                     {"items_per_s_cluster", n / cluster.wall_s},
                     {"throughput_ratio_cluster_to_local", local.wall_s / cluster.wall_s},
                     {"per_item_us_local", local.wall_s * 1e6 / n},
                     {"per_item_us_remote", remote.wall_s * 1e6 / n},
                     {"remote_item_overhead_us", (remote.wall_s - local.wall_s) * 1e6 / n},
                     {"cluster_items_ran_on", cluster.result->state.at("ran_on")},
                     {"peak_rss_kb", peak_rss_kb()},
                     {"ok", ok}}),
      ok);
}

} // namespace actorflow::tools
