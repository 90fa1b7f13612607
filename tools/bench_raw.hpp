#pragma once
// `actorflow bench fanout-raw`: the baseline the runtime's fan-out is compared against, written
// the plain CAF way (no flows, nodes or runtime layers). Kept free of CAF headers so main.cpp
// stays cheap to compile.

#include <cstddef>
#include <string>

namespace actorflow::tools {

struct RawFanoutOptions {
  std::size_t items = 100'000;
  std::size_t concurrency = 1024;
  std::size_t workers = 2;
  /// "stealing" (CAF's default scheduler) or "sharing".
  std::string policy = "stealing";
  /// Per-request timeout; 0 means caf::infinite, which is what the runtime's own child requests
  /// use and which skips CAF's timer bookkeeping. A finite value adds one clock entry per item.
  std::size_t request_timeout_ms = 0;
};

/// One reducer actor spawns one event-based actor per item, requests it with the item's index,
/// and keeps at most `concurrency` requests in flight. Prints one JSON object; returns 0 only if
/// every index came back exactly once with the right value.
int bench_fanout_raw(const RawFanoutOptions& options);

} // namespace actorflow::tools
