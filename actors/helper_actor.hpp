#pragma once
// An actor that answers (ask_atom, Value) with a user handler: Runtime::spawn_actor.

#include <actorflow/actor_ref.hpp>

#include <caf/fwd.hpp>

namespace actorflow::actors {

caf::actor spawn_helper_actor(caf::actor_system& system, ActorHandler handler);

} // namespace actorflow::actors
