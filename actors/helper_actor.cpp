#include "actors/helper_actor.hpp"

#include "actors/messages.hpp"
#include "core/guard.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

namespace actorflow::actors {

namespace {

caf::behavior helper_actor(caf::event_based_actor*, ActorHandler handler) {
  return {
      [handler = std::move(handler)](ask_atom, const Value& request) -> AskReply {
        auto answer = detail::guarded("actor handler", [&] { return handler(request); });
        if (!answer) // the handler threw
          return {std::nullopt, std::move(answer).error()};
        if (!answer->ok()) // the handler returned an error
          return {std::nullopt, answer->error()};
        return {std::move(answer->value()), {}};
      },
  };
}

} // namespace

caf::actor spawn_helper_actor(caf::actor_system& system, ActorHandler handler) {
  return system.spawn(helper_actor, std::move(handler));
}

} // namespace actorflow::actors
