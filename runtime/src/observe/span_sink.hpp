#pragma once
// Where the spans of one run go (RunOptions::on_span, RunOptions::trace, the Runtime's trace
// file), and the clock they are timed on. A run has a sink only when someone listens: every
// span site checks for one first and does nothing without it.

#include <actorflow/events.hpp>
#include <actorflow/result.hpp>

#include "observe/otlp_trace.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

namespace actorflow::detail {

/// Thread-safe: actors of the run and provider threads (a model call ends there) use it at
/// once. `now` is safe to call after the Runtime is gone (it holds what it reads).
struct SpanSink {
  using TimePoint = std::chrono::steady_clock::time_point; // caf::actor_clock's
  /// The host's RunOptions::on_span: not called once the run has ended.
  std::function<void(const SpanEvent&)> to_host;
  /// Into TraceWriters the sink shares (RunOptions::trace, the Runtime's trace file): also
  /// after the run, so that a cancelled run's trace gets the spans its actors close as they
  /// stop.
  std::function<void(const SpanEvent&)> to_writers;
  std::function<TimePoint()> now; // the runtime's clock: virtual in tests
  TimePoint origin;               // when the run started, on that clock
  /// The run's OpenTelemetry trace, when its spans are exported: launches on cluster nodes
  /// carry it, so that the spans their nodes export join it (null: not exported).
  OtlpTracePtr otlp;
  std::atomic<std::uint64_t> next_id{1};

  [[nodiscard]] std::uint64_t new_id() noexcept {
    return next_id.fetch_add(1, std::memory_order_relaxed);
  }
  /// The run has ended: spans that end later (a straggling item, a model call ending on a
  /// provider thread) go to the writers only, since the host may have torn down what its
  /// callback refers to.
  void end() {
    std::unique_lock lock{mutex_};
    ended_ = true;
  }
  /// Reports a span that started at `start` and ends now (or at `end`).
  void report(SpanEvent::Kind kind, std::string name, std::optional<std::size_t> item,
              std::uint32_t attempt, std::uint64_t id, std::uint64_t parent, TimePoint start,
              std::optional<Error> error = std::nullopt,
              std::optional<TimePoint> end = std::nullopt,
              std::shared_ptr<const ModelCallEvent> call = nullptr) const {
    SpanEvent span;
    span.kind = kind;
    span.name = std::move(name);
    span.item = item;
    span.attempt = attempt;
    span.id = id;
    span.parent = parent;
    span.start = start - origin;
    span.duration = std::max(end.value_or(now()) - start, std::chrono::nanoseconds{0});
    span.error = std::move(error);
    span.call = std::move(call);
    if (to_writers)
      to_writers(span);
    if (!to_host)
      return;
    std::shared_lock lock{mutex_};
    if (!ended_)
      to_host(span);
  }

private:
  mutable std::shared_mutex mutex_;
  bool ended_ = false; // guarded by mutex_
};

/// A span that has started: its id (0: not traced) and when.
struct OpenSpan {
  std::uint64_t id = 0;
  SpanSink::TimePoint start{};
  explicit operator bool() const noexcept { return id != 0; }
};

/// Reports `span` as ending now (with `error`, when not null) and closes it, when it is open
/// (an open span was opened on `sink`, so `sink` may be null only for a span that is not).
/// Called for every attempt of every item, traced or not: it copies nothing unless it reports.
inline void close_span(SpanSink* sink, OpenSpan& span, SpanEvent::Kind kind,
                       const std::string& name, std::optional<std::size_t> item,
                       std::uint32_t attempt, std::uint64_t parent, const Error* error = nullptr) {
  if (!span)
    return;
  sink->report(kind, name, item, attempt, span.id, parent, span.start,
               error ? std::optional<Error>(*error) : std::nullopt);
  span = {};
}

} // namespace actorflow::detail
