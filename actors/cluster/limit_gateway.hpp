#pragma once
// The owner's limit gateway: the cluster nodes' items ask it which of this Runtime's resource
// controllers grants their model calls, so that limits hold across the cluster.

#include <caf/fwd.hpp>

#include <memory>

namespace actorflow::actors {

class LimitControllers;

/// Answers (ctrl_atom, provider, model) -> (controller, lease id) from the nodes' items.
caf::actor spawn_limit_gateway(caf::actor_system& system,
                               std::shared_ptr<LimitControllers> controllers);

} // namespace actorflow::actors
