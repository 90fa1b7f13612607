#pragma once
// `actorflow bench`: measurements printed as JSON, each with the ideal or baseline it is
// compared against, measured in the same run. Kept free of CAF headers so main.cpp stays cheap
// to compile.

#include <actorflow/runtime.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace actorflow::tools {

/// CAF's scheduler policies, by their names in CAF's configuration (`scheduler.policy`).
inline const std::map<std::string, SchedulerPolicy> scheduler_policies{
    {"sharing", SchedulerPolicy::sharing}, {"stealing", SchedulerPolicy::stealing}};

/// The name of `policy` in `scheduler_policies`.
inline std::string policy_name(SchedulerPolicy policy) {
  for (const auto& [name, value] : scheduler_policies)
    if (value == policy)
      return name;
  return "unknown";
}

struct SleepBenchOptions {
  std::size_t nodes = 10'000;
  std::size_t sleep_ms = 100;
  std::size_t workers = 2;
};

struct StepsBenchOptions {
  std::size_t steps = 20'000;
  std::size_t workers = 2;
};

struct FanoutBenchOptions {
  std::size_t items = 100'000;
  std::size_t concurrency = 1024;
  std::size_t workers = 2;
  bool fold = false; ///< as-completed reducer that keeps no per-item results
  SchedulerPolicy policy = SchedulerPolicy::stealing; ///< the runtime's default
  /// CPU time each exec spends (a busy loop), to see that items still run in parallel.
  std::size_t exec_cpu_us = 0;
};

struct RawFanoutOptions {
  std::size_t items = 100'000; ///< at least 1
  std::size_t concurrency = 1024;
  std::size_t workers = 2;
  /// CAF's own policy of that name (not actorflow's). Sharing by default: it is plain CAF's
  /// faster one here for this program (3.9 µs per item against 5.0 with stealing).
  SchedulerPolicy policy = SchedulerPolicy::sharing;
  /// Per-request timeout; 0 means caf::infinite, which is what the runtime's own child requests
  /// use and which skips CAF's timer bookkeeping. A finite value adds one clock entry per item.
  std::size_t request_timeout_ms = 0;
};

struct CheckpointBenchOptions {
  std::size_t items = 100'000;
  std::size_t concurrency = 1024;
  std::size_t workers = 2;
  std::string db{}; ///< the store (a file or a postgresql:// URL); "" a temporary SQLite file
};

struct LatencyBenchOptions {
  std::size_t items = 1000;
  std::size_t concurrency = 64;
  std::size_t latency_ms = 50;
  std::size_t workers = 2;
};

struct HttpBenchOptions {
  std::size_t items = 2000;
  std::size_t concurrency = 256;
  std::size_t latency_ms = 20;
  std::size_t workers = 2;
};

struct BatchApiBenchOptions {
  std::size_t items = 10'000;
  std::size_t concurrency = 256;    ///< the online run's window (and connections)
  std::size_t batch_delay_ms = 200; ///< the sim's processing time per job
  std::size_t max_requests = 5000;  ///< calls per job
  std::size_t workers = 2;
};

struct AgentBenchOptions {
  std::size_t turns = 5;             ///< model turns, each calling every tool
  std::size_t tools = 4;             ///< tools per turn, called at once
  std::size_t latency_ms = 50;       ///< each tool call's wait
  std::size_t model_latency_ms = 20; ///< the sim's latency per model call
  std::size_t rounds = 500;          ///< rounds of no-op calls for per_tool_call_us
  std::size_t workers = 2;
};

struct EventsBenchOptions {
  std::size_t items = 100'000;
  std::size_t concurrency = 1024;
  std::size_t rounds = 3; ///< runs of each side, alternating; the best of each is compared
  std::size_t workers = 2;
};

struct OtlpBenchOptions {
  std::size_t items = 50'000;
  std::size_t concurrency = 1024;
  std::size_t rounds = 3; ///< runs of each side, alternating; the best of each is compared
  std::size_t workers = 2;
  std::size_t max_queue = 1'000'000;     ///< the exporter's queue: large, so that none is dropped
  std::size_t shutdown_timeout_ms = 500; ///< how long the stalled side's shutdown waits
};

struct RateLimitBenchOptions {
  std::size_t items = 600;
  std::uint64_t rpm = 6000; ///< requests per minute, of the client and the sim (0: none)
  std::uint64_t tpm = 0;    ///< tokens per minute, of the client and the sim (0: none)
  std::size_t latency_ms = 10;
  std::uint32_t max_tokens = 16;
  std::size_t concurrency = 256;
  std::size_t workers = 2;
  bool no_settle = false; ///< neither side corrects tokens by actual usage
};

struct ClusterBenchOptions {
  std::size_t nodes = 2; ///< `actorflow node` processes started on loopback
  std::size_t items = 100'000;
  std::size_t concurrency = 1024;
  std::size_t workers = 2;      ///< this process's scheduler threads
  std::size_t node_workers = 1; ///< each node's
};

struct ChaosBenchOptions {
  std::size_t items = 20'000;
  std::size_t concurrency = 256;
  std::size_t latency_ms = 20;        ///< the sim's latency per call
  double fault_rate = 0.05;           ///< calls failing: 429, 500, dropped, malformed
  std::size_t node_silence_ms = 1000; ///< ClusterConfig::node_silence
  std::size_t workers = 2;
};

/// Chat calls against a sim with faults, over this process and two node processes, one killed
/// and one stopped and resumed mid-run: items lost and doubled (both must be 0), retries,
/// requeues, wall time.
int bench_chaos(const ChaosBenchOptions& options);

/// The stock "echo" batch three ways in one run: here only, here and on the nodes, on the
/// nodes only: throughput against local-only, and the per-item overhead of a remote item.
int bench_cluster(const ClusterBenchOptions& options);

/// A batch of chat calls through the openai provider against an `actorflow sim` started for
/// the purpose: wall time against ceil(N/C) * L, and client CPU time per request.
int bench_http(const HttpBenchOptions& options);
int bench_batch_api(const BatchApiBenchOptions& options);

/// One agent against an `actorflow sim`, every turn calling `tools` tools of `latency_ms` at
/// once: wall time against turns * (model latency + tool latency) ("ratio"); and the cost of
/// one tool call through run_tool_calls with no-op tools ("per_tool_call_us").
int bench_agent(const AgentBenchOptions& options);

/// The fan-out with every event streamed (StreamMode::debug) to a reader thread, against the
/// same run without a reader, alternating in one process: per-item cost and their ratio.
int bench_events(const EventsBenchOptions& options);

/// The fan-out without span export, exporting to a loopback collector that answers at once,
/// and to one that never answers: the exporter's CPU per span, and the wall ratios.
int bench_otlp(const OtlpBenchOptions& options);

/// A batch of chat calls through the openai provider under `RuntimeConfig::limits`, against an
/// `actorflow sim` enforcing the same limits: wall time against the binding limit's ideal, the
/// server's 429s (none expected), and how long calls waited for their grants.
int bench_ratelimit(const RateLimitBenchOptions& options);

/// The fan-out with a no-op exec twice in one process: without and with a SQLite checkpoint
/// store (every item's outcome committed); the ratio of the two wall times.
int bench_checkpoint(const CheckpointBenchOptions& options);

/// A ParallelBatchNode with a no-op exec over N generated items: per-item cost of the fan-out.
int bench_fanout(const FanoutBenchOptions& options);

/// The baseline `bench_fanout` is compared against, written the plain CAF way (no flows, nodes
/// or runtime layers): one reducer actor spawns one event-based actor per item, requests it
/// with the item's index, and keeps at most `concurrency` requests in flight. Prints one JSON
/// object; returns 0 only if every index came back exactly once with the right value.
int bench_fanout_raw(const RawFanoutOptions& options);

/// A batch whose exec awaits a timer of L ms: wall time against ceil(N/C) * L.
int bench_latency(const LatencyBenchOptions& options);

/// N one-node flows at once, each node sleeping L ms through `co_await ctx.sleep`.
/// Ideal: L (every sleep overlaps); a thread-blocking sleep would need N * L / workers.
int bench_sleep(const SleepBenchOptions& options);

/// One flow cycling through N no-op steps (a fresh node actor each). Baseline: the same node
/// methods called in a plain loop, to isolate the per-step cost of actors and messages.
int bench_steps(const StepsBenchOptions& options);

} // namespace actorflow::tools
