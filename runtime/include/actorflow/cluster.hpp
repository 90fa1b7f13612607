#pragma once
/// Running batch items on other processes: `actorflow node` daemons (or any host that calls
/// `Runtime::serve`) run the items of a ParallelBatchNode that was added to its flow by
/// registered type name (`FlowBuilder::registered_node`), found by that name on their side.
///
/// How it behaves:
/// - Placement: each item goes to the place (this Runtime, or a connected node) with the most
///   free capacity at its launch; items of nodes added by factory always run here.
/// - A node that dies or disconnects, or stops answering (`node_silence`): its items in flight
///   start again elsewhere (this counts as no attempt); a result arriving late from it is
///   dropped, so every item reaches the reducer once. The node is dialled again every
///   `reconnect_interval` and used once back.
/// - Retries, timeouts, fallbacks and the circuit stay with the batch, here; a node runs one
///   attempt per launch and reports exec's raw error.
/// - Limits stay global: a node's model calls ask this Runtime's resource controllers.
/// - Payloads (items, outcomes) travel as msgpack Values; a payload a peer cannot decode, an
///   unknown node type or another protocol version is an error of that item, never a crash.
/// - Off loopback, connections need TLS (certificates signed by one CA, checked both ways)
///   unless `insecure` is set.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// PEM files for TLS: this side's certificate and key, and the CA that signs every peer's.
struct TlsFiles {
  std::string certificate{};
  std::string key{};
  std::string ca{};
  [[nodiscard]] bool empty() const noexcept {
    return certificate.empty() && key.empty() && ca.empty();
  }
};

/// How a Runtime takes part in a cluster (`RuntimeConfig::cluster`).
struct ClusterConfig {
  /// Nodes to run items on, "host:port". The Runtime dials them together when it starts and
  /// waits for them (each connection, then each hello, at most `connect_timeout`); one that
  /// does not answer is logged and dialled again in the background.
  std::vector<std::string> nodes{};
  /// Loads CAF's network layer even without `nodes`, for `Runtime::serve` and
  /// `Runtime::add_node`. Implied by `nodes` and `tls`.
  bool network = false;
  /// Certificates for every connection, made and accepted: with them, TLS is used both ways.
  TlsFiles tls{};
  /// Allows plain connections to and from addresses off loopback (127.0.0.0/8, ::1).
  bool insecure = false;
  /// Items this Runtime runs itself at once before a node with more room is preferred; none:
  /// 64 per worker thread. 0: items of registered nodes run on nodes only (while any is up).
  std::optional<std::size_t> local_capacity{};
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds reconnect_interval{500};
  /// A connected node that answers none of this Runtime's heartbeats (one every quarter of
  /// this) for this long is treated as lost, as if its connection had dropped: its items in
  /// flight start again elsewhere, it is told to stop them, and it is dialled again and used
  /// once it answers. This finds a node that hangs or is stopped (SIGSTOP), and a partition
  /// that leaves the connection open. 0 (or less): no heartbeats; only a dropped connection
  /// counts. A node's host only forwards work to item actors, so a node busy with I/O-bound
  /// items answers at once; but items that compute for long stretches between awaits hold
  /// the scheduler threads the host needs: keep this well above the longest such stretch.
  std::chrono::milliseconds node_silence{5000};
};

/// How `Runtime::serve` hosts items for other Runtimes.
struct ServeOptions {
  std::string bind = "127.0.0.1"; ///< the address to listen on
  std::uint16_t port = 0;         ///< 0: the system picks one (returned by serve)
  /// Items this node runs at once, as it tells the Runtimes that connect; 0: 64 per worker.
  std::size_t capacity = 0;
};

/// One connected (or configured) node, as `Runtime::cluster_status` sees it.
struct NodeStatus {
  std::string address; ///< "host:port"
  bool connected = false;
  std::size_t capacity = 0; ///< what the node said it takes at once
  std::size_t in_flight = 0;
  std::uint64_t items_done = 0;     ///< outcomes received from it
  std::uint64_t items_requeued = 0; ///< items it lost (it died) that started again elsewhere
  std::uint64_t connects = 0;       ///< successful connections so far
  std::string last_error{};         ///< why the last dial or the connection failed
};

/// Where an item ran (`ItemOutcome::ran_on`): this Runtime (empty), or a cluster node's
/// "host:port". Four bytes, since an ordered gather keeps one per item; equal addresses are
/// equal values. Cheap to copy; safe to use from any thread.
///
/// Addresses are interned for the life of the process, and they also come from outside (a
/// peer's outcomes, a checkpoint store): so at most `max_distinct` of them are kept, each at
/// most `max_bytes` long. Any other is `overflow()`, "(other node)".
class NodeAddress {
public:
  static constexpr std::size_t max_distinct = 4096;
  static constexpr std::size_t max_bytes = 300; // a DNS name (253) and ":65535", and room

  /// This Runtime.
  NodeAddress() = default;
  /// `address` ("host:port"); an empty one is this Runtime.
  explicit NodeAddress(std::string_view address);

  /// Where an address went that the table had no room for.
  [[nodiscard]] static NodeAddress overflow() noexcept;

  /// True for this Runtime.
  [[nodiscard]] bool empty() const noexcept { return id_ == 0; }
  /// "host:port", or "" for this Runtime. The string lives as long as the process.
  [[nodiscard]] const std::string& str() const;

  /// In the order addresses were first seen (for maps keyed by address).
  friend auto operator<=>(NodeAddress, NodeAddress) = default;

private:
  std::uint32_t id_ = 0;
};

/// The version of the protocol between a Runtime and its nodes; both must speak the same.
// 2: calls carry their cost; 3: and how many of them were batched; 4: nodes answer heartbeats;
// 5: launches carry their place in an exported trace.
inline constexpr std::uint32_t cluster_protocol_version = 5;

} // namespace actorflow
