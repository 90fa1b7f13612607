#pragma once
// `actorflow bench`: measurements printed as JSON, each with the ideal or baseline it is
// compared against, measured in the same run.

#include <cstddef>

namespace actorflow::tools {

struct SleepBenchOptions {
  std::size_t nodes = 10'000;
  std::size_t sleep_ms = 100;
  std::size_t workers = 2;
};

struct StepsBenchOptions {
  std::size_t steps = 20'000;
  std::size_t workers = 2;
};

/// N one-node flows at once, each node sleeping L ms through `co_await ctx.sleep`.
/// Ideal: L (every sleep overlaps); a thread-blocking sleep would need N * L / workers.
int bench_sleep(const SleepBenchOptions& options);

/// One flow cycling through N no-op steps (a fresh node actor each). Baseline: the same node
/// methods called in a plain loop, to isolate the per-step cost of actors and messages.
int bench_steps(const StepsBenchOptions& options);

} // namespace actorflow::tools
