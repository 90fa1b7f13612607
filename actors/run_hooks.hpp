#pragma once
// How the host watches one run: its RunOptions, counters and span sink, and its checkpoint when
// it is durable. Shared by every actor of the run (and by the leases of its model calls, which
// end on provider threads).

#include <actorflow/events.hpp>
#include <actorflow/runtime.hpp>

#include "core/event_hub.hpp"
#include "core/interrupt_board.hpp"
#include "core/run_meter.hpp"
#include "observe/span_sink.hpp"
#include "store/run_checkpoint.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

namespace actorflow::actors {

using detail::OpenSpan;
using detail::SpanSink;

/// Thread-safe: its members are set once; the reports take care of the run's end.
class RunHooks {
public:
  RunHooks(RunOptions run_options, std::uint64_t id, std::shared_ptr<detail::RunMeter> run_meter,
           std::shared_ptr<SpanSink> span_sink,
           std::shared_ptr<detail::RunCheckpoint> run_checkpoint,
           std::shared_ptr<detail::EventHub> event_hub = nullptr,
           std::shared_ptr<detail::InterruptBoard> interrupt_board = nullptr)
      : options(std::move(run_options)), run_id(id), meter(std::move(run_meter)),
        spans(std::move(span_sink)), checkpoint(std::move(run_checkpoint)),
        events(std::move(event_hub)), interrupts(std::move(interrupt_board)) {}

  const RunOptions options;
  const std::uint64_t run_id;
  const std::shared_ptr<detail::RunMeter> meter;           // never null
  const std::shared_ptr<SpanSink> spans;                   // null: nobody listens to spans
  const std::shared_ptr<detail::RunCheckpoint> checkpoint; // null: the run is not durable
  // Null for the hooks of items run for another Runtime (a cluster node): their events and
  // interrupts stay with that Runtime's run.
  const std::shared_ptr<detail::EventHub> events;
  const std::shared_ptr<detail::InterruptBoard> interrupts;

  /// Whether the run streams events of `mode`.
  [[nodiscard]] bool streams(StreamMode mode) const noexcept {
    return events && events->wants(mode);
  }

  /// Passes a step of supervision to options.on_attempt (called only from the run's actors,
  /// which stop with the run): attempt `attempt` of node `node` (of its item `item` in a
  /// batch).
  void report_attempt(AttemptEvent::Kind kind, const std::string& node,
                      std::optional<std::size_t> item, std::uint32_t attempt, const Error& error,
                      std::chrono::milliseconds delay = std::chrono::milliseconds{0}) const {
    if (!options.on_attempt)
      return;
    AttemptEvent event;
    event.kind = kind;
    event.node = node;
    event.item = item;
    event.attempt = attempt;
    event.error = error;
    event.delay = delay;
    options.on_attempt(event);
  }
  /// Passes a model call to options.on_model_call, unless the run has ended: a call can end
  /// on a provider thread long after its run (cancelled, abandoned by a timeout), when the host
  /// may have torn down what the callback refers to.
  void report_model_call(const ModelCallEvent& event) const {
    if (!options.on_model_call)
      return;
    std::shared_lock lock{mutex_};
    if (!ended_)
      options.on_model_call(event);
  }
  /// The run has ended: no model call or span is reported after this returns, and no actor of
  /// the run starts another attempt (`ended`).
  void end_reports() const {
    over_.store(true, std::memory_order_release);
    {
      std::unique_lock lock{mutex_};
      ended_ = true;
    }
    if (spans)
      spans->end();
  }
  /// Whether the run has ended (its handle completed, or is about to). A cancel reaches the
  /// run's actors as an exit travelling down their links; until it arrives, they ask this
  /// before they start work, so that nothing starts after the host was told the run is over.
  [[nodiscard]] bool ended() const noexcept { return over_.load(std::memory_order_acquire); }

private:
  mutable std::shared_mutex mutex_;
  mutable bool ended_ = false;            // guarded by mutex_
  mutable std::atomic<bool> over_{false}; // ended(), read without the lock
};

} // namespace actorflow::actors
