#pragma once
// The node actor: one execution of one node, prep, exec and post, on a fresh instance. It
// hosts exec's coroutine (an exec site), and its attempts run under a supervisor: retried
// after a backoff, timed out, failed fast by an open circuit, replaced by the fallback. A
// ParallelBatchNode's items run in a batch actor it spawns (actors/batch_actor.hpp); post is
// then the batch's post_batch, there.
//
// Spawned linked to its flow actor, so that a cancelled run takes it, and what it started,
// with it. It answers one (run_atom, State) request with a StepReply and quits.

#include <actorflow/node.hpp>
#include <actorflow/retry.hpp>

#include "actors/run_scope.hpp"

#include <caf/fwd.hpp>

#include <optional>
#include <string>

namespace actorflow::actors {

/// A node actor linked to `parent`, making the node with `factory`. `flow_policy`: the flow's
/// retry policy for it (the node's own wins); `registered_type`: its registered name, when it
/// was added by name, so that a batch's items may run on cluster nodes.
caf::actor spawn_child_node(caf::local_actor* parent, Scope scope, std::string name,
                            NodeFactory factory, std::optional<RetryPolicy> flow_policy,
                            std::string registered_type = {});

} // namespace actorflow::actors
