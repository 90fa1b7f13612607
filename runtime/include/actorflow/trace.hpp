#pragma once
/// Spans: where a run spent its time, as a tree (flow → node → item → attempt → model call),
/// and `TraceWriter`, which turns them into a Chrome trace file (Perfetto, chrome://tracing).
///
/// A run reports its spans through `RunOptions::on_span` (or `RunOptions::trace`, or the
/// Runtime's `RuntimeConfig::trace_file`) as each one ends. When nothing listens, the runtime
/// times nothing and allocates nothing for spans.

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

/// One timed piece of a run, reported when it ends.
///
/// Times are on the runtime's clock (the virtual clock under `testing::VirtualClock`), measured
/// from the start of the run. A child lies within its parent, with one exception: a model call
/// whose attempt was abandoned (attempt_timeout) goes on, and ends, after its parent.
struct SpanEvent {
  enum class Kind : std::uint8_t {
    flow,       ///< one run of a flow, the root or a nested one (`name`: the flow's name)
    node,       ///< one node execution: prep, exec (all attempts) and post (`name`: its path)
    item,       ///< one batch item, from its first attempt to its final outcome
    attempt,    ///< one exec attempt of a node or of an item
    backoff,    ///< the wait between a failed attempt and the next one
    grant_wait, ///< a model call waiting for its grant (`name`: "provider/model")
    model_call, ///< a model call, from its grant until the provider answered ("provider/model")
  };
  Kind kind = Kind::flow;
  /// The flow's name; the node's path ("outer/inner") for node, item, attempt and backoff
  /// spans; "provider/model" for grant_wait and model_call.
  std::string name;
  /// The batch item's index: for item spans, and the attempts, backoffs, grant waits and model
  /// calls of an item (not for flows and nodes that run inside an item's exec).
  std::optional<std::size_t> item;
  /// 1-based: an attempt's number; for a backoff, the attempt it waits to start; for a grant
  /// wait or a model call, the attempt that made it; for an item, the attempts it took.
  /// 0 for flows and nodes.
  std::uint32_t attempt = 0;
  std::uint64_t id = 0;            ///< unique within the run, never 0
  std::uint64_t parent = 0;        ///< the enclosing span's id; 0 for the root flow
  std::chrono::nanoseconds start{0};    ///< since the run started
  std::chrono::nanoseconds duration{0};
  /// Why it failed. Work that was stopped (the run cancelled, a batch that stopped early, an
  /// attempt that timed out) ends with `cancelled` or `timeout`.
  std::optional<Error> error;
};

/// "flow", "node", "item", "attempt", "backoff", "grant_wait", "model_call".
[[nodiscard]] std::string_view to_string(SpanEvent::Kind kind) noexcept;

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
