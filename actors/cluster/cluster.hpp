#pragma once
// The cluster as the owner of a run sees it (see actorflow/cluster.hpp for what users get):
// `Cluster` keeps the nodes (dialled, watched, dialled again after they die or fall silent) and
// places each launch of a registered node's item at the place with the most free capacity.

#include <actorflow/cluster.hpp>
#include <actorflow/result.hpp>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::actors {

/// The nodes of one owner Runtime. Thread-safe; batch actors place launches through it.
class Cluster {
public:
  /// A launch's place: 0 is this Runtime, otherwise 1 + the node's index.
  struct Place {
    std::uint32_t node = 0;
    std::uint64_t generation = 0; // the node's connection the launch went to
    caf::actor host;              // the node's host actor (invalid for this Runtime)
  };

  Cluster(caf::actor_system& system, ClusterConfig config, std::size_t workers,
          std::function<void(std::string_view)> log, caf::actor gateway);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  /// Dials `address` and waits for it (its connection, then its hello, each at most the
  /// connect timeout); added either way, and dialled again in the background while it is down.
  Result<void> connect(const std::string& address);
  /// Takes room for one launch at the place with the most free capacity (this Runtime when
  /// no node is up).
  Place place();
  /// A launch at `node` (of connection `generation`) has ended; `done`: with an outcome.
  void release(std::uint32_t node, std::uint64_t generation, bool done);
  /// A batch saw connection `generation` of `node` go down, with `requeued` launches on it.
  void lost(std::uint32_t node, std::uint64_t generation, std::size_t requeued);
  /// The batch actor `batch` may send launches to nodes: it hears (silent_atom) of a node
  /// that falls silent, since no down message comes from one. `leave` when it ends.
  void join(const caf::actor_addr& batch);
  void leave(const caf::actor_addr& batch);
  [[nodiscard]] std::string address(std::uint32_t node) const;
  [[nodiscard]] const caf::actor& gateway() const noexcept { return gateway_; }
  [[nodiscard]] const ClusterConfig& config() const noexcept;
  [[nodiscard]] std::vector<NodeStatus> status() const;
  /// Waits at most `timeout` until every node added so far is connected.
  bool wait_connected(std::chrono::milliseconds timeout) const;
  /// Stops dialling and lets go of every node (at shutdown, before the actor system goes).
  void disconnect();

  struct Impl; // public for the watcher actor in cluster.cpp

private:
  // Adds `address` (or finds it) and marks it as being dialled by the caller: its index, or
  // none when it is up or being dialled already. Errors: a malformed address, off loopback
  // without TLS or `insecure`, shutting down.
  Result<std::optional<std::size_t>> claim(const std::string& address);

  std::unique_ptr<Impl> impl_;
  caf::actor gateway_;
};

} // namespace actorflow::actors
