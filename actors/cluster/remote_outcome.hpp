#pragma once
// What a batch makes of a cluster node's outcome of a launch. A node reports exec's raw
// result; the retry policy and then the fallback apply on the batch's side, as they do around
// a local item's exec, so that one policy rules an item wherever its attempts run.

#include <actorflow/batch.hpp>
#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include "actors/node_spec.hpp"
#include "core/supervision.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

namespace actorflow::actors {

/// How an attempt that ran on a node ended, as the batch settles it.
struct RemoteVerdict {
  std::variant<Value, Error> result;
  std::int64_t tokens = 0;
  bool retry = false;                  // the error is worth another attempt
  std::optional<Error> fell_back_from; // the fallback answered this error
};

/// The verdict on `outcome` (an error: it did not decode) of attempt `attempt` of item `index`
/// with `input`: retried under `rules`, else answered by the node's fallback on a fresh
/// instance, else failed.
[[nodiscard]] RemoteVerdict judge_remote_outcome(Result<ItemOutcome> outcome,
                                                 const detail::Supervision& rules,
                                                 std::uint32_t attempt, const NodeSpec& spec,
                                                 std::size_t index, const Value& input);

} // namespace actorflow::actors
