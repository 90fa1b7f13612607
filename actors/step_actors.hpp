#pragma once
// The actors that execute flows: one flow actor per (nested) flow run, one node actor per node
// execution. Both answer (run_atom, State) with a StepReply and then quit.
//
// Children are spawned linked, so that a flow actor that is killed (a cancelled run) takes its
// node actors, and they their sub-flows, with it: cancellation reaches every descendant.

#include "actors/messages.hpp"
#include "core/flow_graph.hpp"

#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace actorflow::actors {

using RunCallback = std::function<void(Result<RunResult>)>;

/// A root flow actor: runs `graph` once sent (run_atom, State), reports to `on_done` (also
/// when killed: then with Errc::cancelled) and quits.
caf::actor spawn_root_flow(caf::actor_system& system, Scope scope,
                           std::shared_ptr<const detail::FlowGraph> graph, RunCallback on_done);

/// A flow actor linked to `parent`, answering one (run_atom, State) request.
caf::actor spawn_child_flow(caf::local_actor* parent, Scope scope,
                            std::shared_ptr<const detail::FlowGraph> graph);

/// A node actor linked to `parent`: makes a node with `factory`, runs prep, exec (suspending
/// on awaits without holding a thread) and post for one (run_atom, State) request. When the
/// node is a ParallelBatchNode, the actor is the batch's fan-out: one item actor per item
/// (placed on cluster nodes too when `registered_type`, its registered name, is given).
caf::actor spawn_child_node(caf::local_actor* parent, Scope scope, std::string name,
                            NodeFactory factory, std::optional<RetryPolicy> flow_policy,
                            std::string registered_type = {});

} // namespace actorflow::actors
