#pragma once
// The cluster, on both sides (see actorflow/cluster.hpp for what users get):
// - the owner of a run (a Runtime with nodes): `Cluster` keeps the nodes (dialled, watched,
//   dialled again after they die) and places each launch of a registered node's item on the
//   place with the most free capacity; its limit gateway lets a node's items reach this
//   Runtime's resource controllers;
// - a node (a Runtime that serves): the node host actor, published on a port, runs each item
//   it is sent in an item actor of its own and sends the outcome back to the batch.
//
// Every message between processes carries only CAF's built-in types (atoms, integers,
// strings, byte vectors, actor handles): payloads are msgpack, so no type needs registering
// and a peer that sends garbage gets an item error, not a deserialisation failure.

#include "actors/messages.hpp"

#include <actorflow/cluster.hpp>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::actors {

// (hello_atom, protocol version) -> (protocol version, capacity): the owner's first message
// to a node it dialled.
using hello_atom = caf::atom_constant<caf::atom("af_hello")>;
// (rexec_atom, protocol version, node type, item msgpack, slot, launch, index, attempt,
//  limit gateway, run id, weight): run one attempt of one item; the answer is an rdone_atom
// message to the sender (the batch actor).
using rexec_atom = caf::atom_constant<caf::atom("af_rexec")>;
// (rdone_atom, slot, launch, outcome msgpack): a node's outcome of one launch.
using rdone_atom = caf::atom_constant<caf::atom("af_rdone")>;
// (rcancel_atom, launch): the batch gave up on a launch (timeout, cancel).
using rcancel_atom = caf::atom_constant<caf::atom("af_rcancl")>;
// (rgone_atom, batch, launch): a node's item actor has ended (to its host, locally).
using rgone_atom = caf::atom_constant<caf::atom("af_rgone")>;
// (ctrl_atom, provider, model) -> (controller, lease id): a node's item asks the run's owner
// which controller grants its model call, and for a lease id unique there.
using ctrl_atom = caf::atom_constant<caf::atom("af_ctrl")>;
/// The model calls of one launch on a node, kept for its owner's `on_model_call` (they end on
/// provider threads). At most `max_kept` are kept; the usage counts every call.
class CallLog {
public:
  static constexpr std::size_t max_kept = 256;
  void add(const ModelCallEvent& event);
  [[nodiscard]] std::vector<ModelCallEvent> take();

private:
  std::mutex mutex_;
  std::vector<ModelCallEvent> events_;
};

/// What a node's item needs to ask the owner of its run for model-call grants.
struct RemoteLimits {
  caf::actor gateway; // the owner's limit gateway
  std::uint64_t run = 0;
  double weight = 0;
  // The launch's own, counting its model calls, whose usage goes back with its outcome ...
  std::shared_ptr<const RunHooks> hooks;
  // ... with the calls themselves (its hooks' on_model_call keeps them here).
  std::shared_ptr<CallLog> calls;
};

/// msgpack bytes as CAF carries them (`std::vector<char>` is a built-in type), and back.
std::vector<char> wire_bytes(const std::vector<std::uint8_t>& bytes);
/// `value` packed as msgpack straight into the bytes CAF carries (one copy, not two).
std::vector<char> to_wire(const Value& value);
std::span<const std::uint8_t> wire_view(const std::vector<char>& bytes);

/// A launch's model calls on the wire (msgpack): their usage, and each call as an event (its
/// node path and item are the owner's to fill in). Bytes that do not decode, or a call that
/// does not, count as nothing: usage is best effort, never an item's failure.
struct LaunchCalls {
  RunUsage usage;
  std::vector<ModelCallEvent> calls;
};
std::vector<char> encode_calls(const RunUsage& usage, const std::vector<ModelCallEvent>& calls);
LaunchCalls decode_calls(const std::vector<char>& bytes);

/// A factory of the node type registered as `type` in `env` (it throws the registry's error
/// naming the known types when there is none).
NodeFactory registered_factory(EnvironmentPtr env, std::string type);

/// One launch of another Runtime's batch item, as a node host received it.
struct RemoteLaunch {
  caf::actor batch; // where the outcome goes
  std::uint32_t slot = 0;
  std::uint32_t launch = 0;
  std::size_t index = 0;
  std::uint32_t attempt = 0;
  RemoteLimits limits;
  Value item;
};

/// A node type as a node host runs it for other Runtimes (actors/node_actor.cpp).
struct RemoteNodeType;
std::shared_ptr<const RemoteNodeType> remote_node_type(Scope scope, std::string type,
                                                       NodeFactory factory);
/// Spawns the item actor of `launch` (its outcome goes to launch.batch; `host` hears
/// rgone_atom when it ends).
caf::actor spawn_remote_item(caf::local_actor* host, const RemoteNodeType& type,
                             RemoteLaunch launch);

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
  [[nodiscard]] std::string address(std::uint32_t node) const;
  [[nodiscard]] const caf::actor& gateway() const noexcept { return gateway_; }
  [[nodiscard]] const ClusterConfig& config() const noexcept;
  [[nodiscard]] std::vector<NodeStatus> status() const;
  /// Waits at most `timeout` until every node added so far is connected.
  bool wait_connected(std::chrono::milliseconds timeout) const;
  /// Stops dialling (at shutdown, before the actor system goes).
  void stop();

  struct Impl; // public for the watcher actor in cluster.cpp

private:
  // Adds `address` (or finds it) and marks it as being dialled by the caller: its index, or
  // none when it is up or being dialled already. Errors: a malformed address, off loopback
  // without TLS or `insecure`, shutting down.
  Result<std::optional<std::size_t>> claim(const std::string& address);

  std::unique_ptr<Impl> impl_;
  caf::actor gateway_;
};

/// Loads CAF's middleman (and the OpenSSL module when `config.tls` is set) into `cfg`; TLS
/// files are checked to exist first. Call before the actor system is made.
Result<void> load_network(caf::actor_system_config& cfg, const ClusterConfig& config);

/// The owner's limit gateway: answers ctrl_atom from its nodes' items.
caf::actor spawn_limit_gateway(caf::actor_system& system,
                               std::shared_ptr<LimitControllers> controllers);

/// Publishes a node host for `env`'s registered node types (Runtime::serve); returns the
/// host (stop it with an exit message) and the port.
Result<std::pair<caf::actor, std::uint16_t>> serve_node(caf::actor_system& system,
                                                        EnvironmentPtr env,
                                                        const ClusterConfig& config,
                                                        const ServeOptions& options,
                                                        std::size_t workers);

/// Items a place runs at once when it is not told: 64 per worker thread.
std::size_t default_capacity(std::size_t workers);

} // namespace actorflow::actors
