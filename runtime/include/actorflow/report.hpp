#pragma once
/// `RunReport`: what one run did, summed up from its events (spans, attempt events, model-call
/// events) and its result: items, failures, retries, tokens, rate-limit waits, wall time,
/// throughput and latency percentiles per node. `ReportCollector` gathers the events:
///
///     ReportCollector collector;
///     auto run = runtime.run(flow, state, collector.options());
///     auto result = run.get();
///     std::fputs(collector.report(result).to_text().c_str(), stdout);

#include <actorflow/limits.hpp>
#include <actorflow/result.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/runtime.hpp>
#include <actorflow/trace.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorflow {

/// Nearest-rank percentiles of a set of durations (p50 of 1, 2, 3, 4 is 2).
struct LatencySummary {
  std::size_t count = 0;
  std::chrono::nanoseconds total{0};
  std::chrono::nanoseconds p50{0}, p90{0}, p99{0}, max{0};

  [[nodiscard]] static LatencySummary of(std::vector<std::chrono::nanoseconds> samples);
};

/// One node of a run (all its executions, under one path).
struct NodeReport {
  std::string node;           ///< its path, "outer/summarise"
  bool batch = false;         ///< a batch node: `latency` and `failed` are its items'
  std::size_t executions = 0; ///< times the node ran
  std::size_t items = 0;      ///< items run (batch nodes)
  std::size_t failed = 0;     ///< failed items (batch), else failed executions
  LatencySummary latency;     ///< per item (first attempt to outcome), else per execution
};

/// One run summed up. Times are on the runtime's clock (virtual under testing::VirtualClock).
struct RunReport {
  std::string flow;                 ///< the root flow's name
  std::optional<Error> error;       ///< none: the run succeeded
  std::chrono::nanoseconds wall{0}; ///< the root flow's span
  std::size_t items = 0;            ///< batch items, every batch of the run
  std::size_t failed_items = 0;     ///< items whose final outcome was an error
  std::size_t node_runs = 0;        ///< node executions (a batch node counts once)
  std::size_t failed_node_runs = 0;
  std::uint64_t retries = 0;         ///< attempts beyond the first
  std::uint64_t failed_attempts = 0; ///< attempts that failed (retried or not)
  /// From the result when the run succeeded, else summed from the model-call events (calls
  /// refused before going out then count as failed calls).
  RunUsage usage;
  /// Waits for a model-call grant, one per call (zero waits included).
  LatencySummary grant_waits;
  /// Calls that waited `noticeable_wait` or more for their grant: a limit held them back.
  /// Shorter waits are the grant's message round trip (microseconds) and are not counted.
  std::size_t waited_calls = 0;
  static constexpr std::chrono::milliseconds noticeable_wait{1};
  /// Items per second of wall time; node executions per second when the run had no items.
  double throughput = 0;
  std::vector<NodeReport> nodes; ///< in the order they first started

  /// An aligned table for terminals, ending in a newline.
  [[nodiscard]] std::string to_text() const;
  /// For JSON: durations in milliseconds (`*_ms`, doubles), counts as integers.
  [[nodiscard]] Value to_value() const;
};

/// Gathers the events of one run and sums them up as a RunReport.
///
/// Thread-safety: `add` and the hooks of `options()` may be called from any thread at once
/// (they take a lock). Copies share the events gathered; the hooks keep them alive, so the
/// collector itself may go before the run ends.
class ReportCollector {
public:
  ReportCollector();

  /// `base` with hooks that feed this collector added to its own (both are called):
  /// on_span, on_attempt and on_model_call.
  [[nodiscard]] RunOptions options(RunOptions base = {}) const;

  void add(const SpanEvent& span);
  void add(const AttemptEvent& event);
  void add(const ModelCallEvent& event);

  /// The report of the run that ended with `result`. Call it once the run has ended (spans of
  /// calls still going on when it ended may come later and are not counted).
  [[nodiscard]] RunReport report(const Result<RunResult>& result) const;

private:
  struct Data;
  std::shared_ptr<Data> data_;
};

} // namespace actorflow
