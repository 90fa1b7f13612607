#pragma once
// The protocol between a Runtime that owns a run and the cluster nodes that run its items.
//
// Every message between processes carries only CAF's built-in types (atoms, integers,
// strings, byte vectors, actor handles): payloads are msgpack (actors/wire.hpp), so no type
// needs registering and a peer that sends garbage gets an item error, not a deserialisation
// failure.

#include <actorflow/events.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/value.hpp>

#include "actors/cluster/call_wire.hpp"
#include "actors/run_hooks.hpp"

#include <caf/actor.hpp>
#include <caf/atom.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace actorflow::actors {

// (hello_atom, protocol version) -> (protocol version, capacity): the owner's first message
// to a node it dialled.
using hello_atom = caf::atom_constant<caf::atom("af_hello")>;
// (rexec_atom, protocol version, node type, item msgpack, slot, launch, index, attempt,
//  limit gateway, run id, weight, traceparent): run one attempt of one item; the answer is
// an rdone_atom message to the sender (the batch actor). The traceparent ("" when the run is
// not exported) is the attempt's place in the run's OpenTelemetry trace (version 5 on).
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
// (ping_atom, token): the owner's heartbeat to a node host, which answers (pong_atom, token)
// to the sender from its own mailbox. A node whose connection stays open but that stops
// reading (SIGSTOP, a hang, a partition that drops no connection) falls silent.
using ping_atom = caf::atom_constant<caf::atom("af_ping")>;
using pong_atom = caf::atom_constant<caf::atom("af_pong")>;
// (silent_atom, node, generation): from the cluster to each batch with launches on a node,
// when that connection fell silent. No down message comes from a silent node: its launches
// start again elsewhere on this one.
using silent_atom = caf::atom_constant<caf::atom("af_silent")>;

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

/// One launch of one batch item: its place in its batch's window (`slot`, and the launch's
/// number, since slots are reused), the item's index and the attempt; `span` is the attempt's
/// span in the run's trace (0: untraced; always 0 on a node, whose spans stay there).
struct ItemLaunch {
  std::uint32_t slot = 0;
  std::uint32_t launch = 0;
  std::size_t index = 0;
  std::uint32_t attempt = 0;
  std::uint64_t span = 0;
};

/// One launch of another Runtime's batch item, as a node host received it.
struct RemoteLaunch {
  caf::actor batch; // where the outcome goes
  ItemLaunch id;
  RemoteLimits limits;
  Value item;
};

/// Items a place runs at once when it is not told: 64 per worker thread.
std::size_t default_capacity(std::size_t workers);

} // namespace actorflow::actors
