#pragma once
/// `RunResult`: what a finished flow run hands back.

#include <actorflow/state.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace actorflow {

/// The model calls of one (provider, model) key within a run.
struct ModelUsage {
  std::uint64_t calls = 0;
  std::uint64_t failed_calls = 0;
  std::uint64_t prompt_tokens = 0;
  std::uint64_t cached_tokens = 0; ///< of prompt_tokens, cached by the server
  std::uint64_t completion_tokens = 0;
  double cost = 0;     ///< US dollars, by `RuntimeConfig::prices`
  bool priced = false; ///< whether the price table had an entry for the key
  /// Of `calls`, those that went through a batch API; the rest went online (a batch provider's
  /// calls its expired job left over and `Leftovers::online` sent on count as online).
  std::uint64_t batched_calls = 0;
  friend bool operator==(const ModelUsage&, const ModelUsage&) = default;
};

/// The model calls of a run (all its nodes, nested flows and batch items), as far as they have
/// ended: calls still in flight when the run ended are not counted.
struct RunUsage {
  std::uint64_t calls = 0;        ///< model calls that ended, successful or not
  std::uint64_t failed_calls = 0; ///< of which failed (including 429s)
  std::uint64_t rate_limited = 0; ///< of which the provider answered 429
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  /// Calls that never went out: their run's token budget was spent (`budget_exhausted`) or
  /// they were larger than a limit.
  std::uint64_t refused = 0;
  /// Calls that moved on to a route's next model (see actorflow/model_route.hpp).
  std::uint64_t fallbacks = 0;
  /// What the calls cost, in US dollars, by `RuntimeConfig::prices` (calls of keys without a
  /// price count 0; see `by_model`).
  double cost = 0;
  /// The same per "provider/model" key.
  std::map<std::string, ModelUsage> by_model{};
  [[nodiscard]] std::uint64_t total_tokens() const noexcept {
    return prompt_tokens + completion_tokens;
  }
  friend bool operator==(const RunUsage&, const RunUsage&) = default;
};

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
  /// Its model calls, when it ended.
  RunUsage usage{};
};

} // namespace actorflow
