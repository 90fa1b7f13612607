#include "actors/cluster/limit_gateway.hpp"

#include "actors/cluster/protocol.hpp"
#include "actors/limit_controller.hpp"
#include "actors/messages.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>

namespace actorflow::actors {

namespace {

// Spawned with its argument (not a capturing lambda): CAF 0.17 spawns an argument-less
// function through a null tuple pointer, which UndefinedBehaviorSanitizer reports.
caf::behavior limit_gateway(caf::event_based_actor* self,
                            std::shared_ptr<LimitControllers> controllers) {
  return {
      [controllers](ctrl_atom, const std::string& provider,
                    const std::string& model) -> caf::result<caf::actor, std::uint64_t> {
        auto controller = controllers->controller(provider, model);
        if (!controller)
          return caf::make_error(caf::sec::request_receiver_down,
                                 "the run's runtime is shutting down");
        return {std::move(controller), controllers->next_lease_id()};
      },
      [self, controllers](node_silent_atom, const caf::node_id& node) {
        // Only this process's cluster says a node is silent: nodes hold this actor's handle.
        if (from_this_process(self))
          controllers->node_silent(node, caf::actor_cast<caf::actor>(self));
      },
  };
}

} // namespace

caf::actor spawn_limit_gateway(caf::actor_system& system,
                               std::shared_ptr<LimitControllers> controllers) {
  return system.spawn(limit_gateway, std::move(controllers));
}
} // namespace actorflow::actors
