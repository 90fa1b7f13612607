#pragma once
/// `TraceWriter`: a run's spans (`SpanEvent`, actorflow/events.hpp) as a Chrome trace file
/// (Perfetto, chrome://tracing).
///
/// A run reports its spans through `RunOptions::on_span` (or `RunOptions::trace`, or the
/// Runtime's `RuntimeConfig::trace_file`) as each one ends. When nothing listens, the runtime
/// times nothing and allocates nothing for spans.

#include <actorflow/events.hpp>
#include <actorflow/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// Where `RuntimeConfig::trace_dir` keeps run `run_id`'s trace: `<dir>/<run_id>.json`. None
/// when the id is no file name (empty, "." or "..", or holding '/' or a control character,
/// which would lead to another file): such a run has no trace file.
[[nodiscard]] std::optional<std::string> run_trace_path(std::string_view dir,
                                                        std::string_view run_id);

/// Collects spans, from any number of runs, and writes them as a Chrome trace event file:
/// `{"traceEvents": [...]}` of "X" (complete) events with `name`, `cat` (the kind), `ts` and
/// `dur` in microseconds, `pid`, `tid` and `args` {id, parent, attempt, and item and error
/// when the span has them}, plus metadata events that name the rows.
///
/// Layout: each run is a process (pid = the run number given to `record`), named
/// "run N: <root flow>". Row ("thread") 1, "flow", holds the flow, node, attempt, backoff and
/// model-call spans outside batch items, which nest as the flow ran. Items go on rows
/// "items 1", "items 2", ...: each item takes the lowest-numbered row free at its start, so a
/// batch with window W uses at most W rows (a row is a window slot, as it looks in the
/// timeline), and everything inside an item (its attempts, backoffs, model calls, sub-flows)
/// stays on the item's row.
///
/// Thread-safety: every member may be called from any thread, at once.
class TraceWriter {
public:
  TraceWriter() = default;
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  /// Adds one span of run `run`; `offset` is added to its start (to put several runs on one
  /// time axis).
  void record(const SpanEvent& span, std::uint64_t run = 1,
              std::chrono::nanoseconds offset = std::chrono::nanoseconds{0});
  /// A hook for `RunOptions::on_span` that records into this writer as run `run`. The writer
  /// must outlive the run (or use `RunOptions::trace`, which keeps it alive).
  [[nodiscard]] std::function<void(const SpanEvent&)> hook(std::uint64_t run = 1);

  /// The spans recorded so far, in the order they were recorded (offsets applied).
  [[nodiscard]] std::vector<SpanEvent> spans() const;
  [[nodiscard]] std::size_t size() const;
  void clear();

  /// The trace as Chrome trace event JSON.
  [[nodiscard]] std::string to_json() const;
  /// Writes `to_json()` to `path`, through a temporary file renamed into place (a reader never
  /// sees half a file). Errors (bad_input) name the path and the system's reason.
  [[nodiscard]] Result<void> write(const std::string& path) const;

private:
  struct Entry {
    std::uint64_t run;
    SpanEvent span;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_; // guarded by mutex_
};

} // namespace actorflow
