#pragma once
// The item actor: one attempt at one batch item. It gets its item when it is spawned, runs exec
// on a fresh node instance (an exec site of its own), sends its outcome to its batch and quits.
// A batch makes one per item attempt, millions of them, so it is kept small and cheap to spawn.
//
// On a cluster node, an item actor runs a launch of another Runtime's batch: its outcome goes
// back as msgpack, its node host hears when it ends, and its model calls ask that Runtime's
// resource controllers for grants.

#include <actorflow/retry.hpp>
#include <actorflow/value.hpp>

#include "actors/cluster/protocol.hpp"
#include "actors/node_spec.hpp"
#include "actors/scheduler/forwarding_clock.hpp"

#include <caf/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace actorflow::actors {

/// What every item actor of one batch shares.
struct ItemSpec {
  NodeSpecPtr node;
  std::optional<RetryPolicy> policy; // resolved by the batch: its node's own, else the flow's
};
using ItemSpecPtr = std::shared_ptr<const ItemSpec>;

/// Spawns an item actor from `batch`, its parent, which gets its outcome as
/// (item_done_atom, slot, launch, retry, ItemOutcome) or, when the actor dies first, an error
/// outcome from its exit.
caf::actor spawn_item_actor(caf::local_actor* batch, ItemSpecPtr spec, const ItemLaunch& launch,
                            Value item);

/// A node type as a node host runs it for other Runtimes.
struct RemoteNodeType {
  ItemSpecPtr spec;
};
[[nodiscard]] std::shared_ptr<const RemoteNodeType> remote_node_type(Scope scope, std::string type,
                                                                     NodeFactory factory);
/// Spawns the item actor of `launch` on its node host `host` (its outcome goes to
/// launch.batch as an rdone_atom message; `host` hears rgone_atom when it ends).
caf::actor spawn_remote_item(caf::local_actor* host, const RemoteNodeType& type,
                             RemoteLaunch launch);

/// The TimeoutTracked part of an item actor, null for any other actor: the scheduler's lookup
/// (actors/scheduler/forwarding_clock.hpp).
TimeoutTracked* as_timeout_tracked(caf::abstract_actor* actor) noexcept;

} // namespace actorflow::actors
