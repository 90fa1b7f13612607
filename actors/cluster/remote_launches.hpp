#pragma once
// The launches one batch sends to cluster nodes: where each goes, the node hosts the batch
// watches (a host that goes down takes its launches with it, and they start again elsewhere),
// and what comes back from them.

#include <actorflow/batch.hpp>
#include <actorflow/cluster.hpp>
#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/protocol.hpp"
#include "actors/run_hooks.hpp"

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actorflow::actors {

class RemoteLaunches {
public:
  /// For a batch actor `self` of the registered node type `type`; `log` is the Runtime's.
  RemoteLaunches(caf::event_based_actor* self, Cluster& cluster, std::string type,
                 std::function<void(std::string_view)> log);
  ~RemoteLaunches();
  RemoteLaunches(const RemoteLaunches&) = delete;
  RemoteLaunches& operator=(const RemoteLaunches&) = delete;

  /// Where the next launch goes, taking room there: this Runtime when `node` is 0.
  [[nodiscard]] Cluster::Place place() { return cluster_->place(); }
  /// A launch at `place` (node 0: here) has ended; `done`: with an outcome.
  void release(const Cluster::Place& place, bool done) {
    cluster_->release(place.node, place.generation, done);
  }

  /// Sends `launch` to the node at `place` (watching its host), for run `hooks`.
  void send(const Cluster::Place& place, const Value& input, const ItemLaunch& launch,
            const RunHooks& hooks);
  /// Asks the node host `host` to stop launch `launch`.
  void cancel(const caf::actor& host, std::uint32_t launch);

  /// A down message from `host`: the node and connection it was (no host), if this batch
  /// watches it (a node that reconnects has an address equal to the old one's, so each down
  /// message is taken to be of the oldest connection still watched: they die in that order).
  [[nodiscard]] std::optional<Cluster::Place> connection_down(const caf::actor_addr& host);
  /// The cluster's word that connection `generation` of `node` fell silent: that connection
  /// (no host), if this batch still watches it. Its host is no longer monitored once no
  /// connection of it is watched; a down message already on its way finds nothing.
  [[nodiscard]] std::optional<Cluster::Place> connection_silent(std::uint32_t node,
                                                                std::uint64_t generation);
  /// `place` went down with `count` launches of this batch, which start again elsewhere;
  /// `why` for the log ("is gone", "stopped answering").
  void count_lost(const Cluster::Place& place, std::size_t count, const std::string& path,
                  std::string_view why);

  /// A node's outcome of a launch of item `index`, with the usage of its model calls: the run
  /// counts those calls, and the host hears of each as made by `path`. An outcome that does
  /// not decode is a bad_response error naming the node.
  [[nodiscard]] Result<ItemOutcome> accept(const std::vector<char>& outcome,
                                           const std::vector<char>& usage, const RunHooks& hooks,
                                           const std::string& path, std::size_t index,
                                           std::uint32_t node);

  /// A node's "host:port", asked of the cluster once per node (it never changes).
  [[nodiscard]] NodeAddress address_of(std::uint32_t node);
  /// Launches started again because their node died.
  [[nodiscard]] std::uint64_t requeued() const noexcept { return requeued_; }

private:
  caf::event_based_actor* self_;
  Cluster* cluster_;
  std::string type_; // the node type's registered name, which the nodes look up
  std::function<void(std::string_view)> log_;
  // Node hosts monitored: the node, and its connections monitored, oldest first.
  std::unordered_map<caf::actor_addr, std::pair<std::uint32_t, std::deque<std::uint64_t>>> watched_;
  std::vector<NodeAddress> addresses_; // by node - 1, as learnt
  std::uint64_t requeued_ = 0;
};

} // namespace actorflow::actors
