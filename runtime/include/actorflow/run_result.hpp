#pragma once
/// `RunResult`: what a finished flow run hands back.

#include <actorflow/state.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace actorflow {

/// The outcome of a flow that ran to its end.
struct RunResult {
  State state;        ///< the final State
  std::string action; ///< the action that ended the flow (returned by its last node)
  /// Nodes in the order they ran; nodes of nested flows appear as "outer/inner".
  std::vector<std::string> path;
  /// Things that did not fail the run but deserve a look, e.g. a node that returned an action
  /// for which it has no edge (the flow ends there, as in PocketFlow).
  std::vector<std::string> warnings;
  /// Exec attempts beyond the first, summed over every node and batch item of the run.
  std::uint64_t retries = 0;
};

} // namespace actorflow
