#include "actors/cluster/remote_outcome.hpp"

#include <utility>

namespace actorflow::actors {

RemoteVerdict judge_remote_outcome(Result<ItemOutcome> outcome, const detail::Supervision& rules,
                                   std::uint32_t attempt, const NodeSpec& spec, std::size_t index,
                                   const Value& input) {
  if (!outcome)
    return {outcome.error(), 0, rules.retryable(outcome.error(), attempt), std::nullopt};
  if (outcome->ok())
    return {std::move(outcome->result), outcome->tokens, false, std::nullopt};
  const Error error = outcome->error();
  if (rules.retryable(error, attempt))
    return {error, outcome->tokens, true, std::nullopt};
  auto node = new_instance(spec, [&] { return spec.where(index, "factory"); });
  auto fallback = node ? fallback_of(**node, input, error, spec.where(index, "exec_fallback"))
                       : Result<Value>(node.error());
  if (!fallback)
    return {fallback.error(), outcome->tokens, false, std::nullopt};
  return {std::move(*fallback), outcome->tokens, false, error};
}

} // namespace actorflow::actors
