#pragma once
// The batch actor: the fan-out of one ParallelBatchNode execution, and the supervisor of its
// items. It pulls items lazily from the node's source, runs each in an item actor (or, for a
// registered node type in a cluster, on the node with the most free room) under a window of at
// most max_concurrency in flight, and gathers the outcomes in input order for post_batch (or
// folds them into on_item as they complete). Retries, time limits and the circuit are its
// supervisor's; a durable run's committed outcomes are restored instead of run again.
//
// Its node actor spawns it (linked: a cancelled run takes the batch and its items with it)
// and asks it once, (run_atom, State) -> StepReply.

#include <actorflow/batch.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/value.hpp>

#include "actors/node_spec.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>

namespace actorflow::actors {

/// Spawns the batch of `node` (its own instance, on which items, on_item and post_batch run),
/// linked to `node_actor`. `policy`: its items' retry policy; `node_span`: the span its items
/// lie in (0: untraced).
caf::actor spawn_batch_actor(caf::local_actor* node_actor, NodeSpecPtr spec,
                             std::unique_ptr<ParallelBatchNode> node,
                             std::optional<RetryPolicy> policy, Value prep_result,
                             std::uint64_t node_span);

} // namespace actorflow::actors
