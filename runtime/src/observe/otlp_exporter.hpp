#pragma once
// The OpenTelemetry exporter of a Runtime: runs hand it spans (any thread, never blocking on
// the network); one sender thread posts them to the collector in batches. See
// actorflow/otlp.hpp for what it promises.

#include <actorflow/events.hpp>
#include <actorflow/otlp.hpp>

#include "observe/otlp_json.hpp"
#include "observe/otlp_settings.hpp"
#include "observe/otlp_trace.hpp"

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace actorflow::detail {

/// Owned by a shared_ptr (hooks hold it weakly).
class OtlpExporter : public std::enable_shared_from_this<OtlpExporter> {
public:
  /// Starts the sender thread.
  explicit OtlpExporter(OtlpSettings settings);
  /// `shutdown()`.
  ~OtlpExporter();
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  /// Queues `span` of the run traced as `trace`; drops it (counted) when the queue is full or
  /// the exporter has shut down. Thread-safe; takes a lock for a moment, nothing else.
  void add(const OtlpTracePtr& trace, const SpanEvent& span);
  /// A span sink's hook for the run traced as `trace`: it holds this exporter weakly, so
  /// spans that end after it is gone go nowhere.
  [[nodiscard]] std::function<void(const SpanEvent&)> hook(OtlpTracePtr trace);

  /// Sends what is queued, waiting at most the config's shutdown_timeout (a request in flight
  /// is abandoned when it runs out), then stops the thread; what is left is counted as dropped.
  /// Idempotent.
  void shutdown();

  [[nodiscard]] OtlpStats stats() const;
  [[nodiscard]] const OtlpSettings& settings() const noexcept { return settings_; }

private:
  class Poster; // libcurl, on the sender thread only
  void run();
  void send(std::vector<QueuedSpan> batch);
  // Waits until `deadline`; false (at once) when shutdown's deadline comes before it.
  bool pause_until(std::chrono::steady_clock::time_point deadline);
  void count(std::uint64_t OtlpStats::*field, std::uint64_t n, std::string error = {});

  const OtlpSettings settings_;
  std::unique_ptr<Poster> poster_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<QueuedSpan> queue_;                   // guarded by mutex_
  bool stopping_ = false;                           // guarded by mutex_
  std::chrono::steady_clock::time_point give_up_{}; // guarded: shutdown's deadline
  OtlpStats stats_;                                 // guarded by mutex_
  std::mt19937 jitter_{std::random_device{}()};     // the sender thread's
  std::thread sender_;
};

} // namespace actorflow::detail
