#pragma once
// The flow actor: walks one run of a flow graph. Each step spawns a linked child (a node actor,
// or a flow actor for a nested flow), sends it the current State, and follows the edge named by
// the action in its reply. Nothing here blocks; the actor is idle while a child works.
//
// Children are spawned linked, so that a flow actor that is killed (a cancelled run) takes its
// node actors, and they their sub-flows, with it: cancellation reaches every descendant. A
// root flow reports its run's outcome; a nested one answers (run_atom, State) with a StepReply.

#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>

#include "actors/run_scope.hpp"
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

} // namespace actorflow::actors
