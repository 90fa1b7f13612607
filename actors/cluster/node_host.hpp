#pragma once
// The node host: what `Runtime::serve` publishes. It runs each launch it is sent in an item
// actor of its own (on a fresh instance of the registered node type the launch names), and
// the item sends its outcome straight back to the batch.

#include <actorflow/cluster.hpp>
#include <actorflow/result.hpp>

#include "actors/run_scope.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace actorflow::actors {

/// Publishes a node host for `env`'s registered node types (Runtime::serve); returns the
/// host (stop it with an exit message) and the port.
Result<std::pair<caf::actor, std::uint16_t>>
serve_node(caf::actor_system& system, EnvironmentPtr env, const ClusterConfig& config,
           const ServeOptions& options, std::size_t workers);

} // namespace actorflow::actors
