#pragma once
// A launch's model calls on the wire (msgpack): what a cluster node sends back with an item's
// outcome, so that its owner counts the calls' usage and reports each call. CAF-free, so that
// it is fuzzed without an actor system (tests/fuzz/cluster_calls_fuzz.cpp). Internal.

#include <actorflow/events.hpp>
#include <actorflow/run_result.hpp>

#include <vector>

namespace actorflow::actors {

/// Their usage, and each call as an event (its node path and item are the owner's to fill in).
/// Bytes that do not decode, or a call that does not, count as nothing: usage is best effort,
/// never an item's failure.
struct LaunchCalls {
  RunUsage usage;
  std::vector<ModelCallEvent> calls;
};
std::vector<char> encode_calls(const RunUsage& usage, const std::vector<ModelCallEvent>& calls);
LaunchCalls decode_calls(const std::vector<char>& bytes);

} // namespace actorflow::actors
