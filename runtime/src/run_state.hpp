#pragma once
// The shared record of one run: written once by the runtime thread that ends the run, read by
// any number of host threads through RunHandle copies.

#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>

#include "core/event_hub.hpp"
#include "core/interrupt_board.hpp"
#include "core/run_meter.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace actorflow::detail {

struct RunState {
  using Callback = std::function<void(const Result<RunResult>&)>;

  explicit RunState(std::uint64_t run_id) : id(run_id), meter(std::make_shared<RunMeter>()) {}

  /// Records the outcome unless one is recorded already; wakes waiters, runs callbacks (on
  /// this thread, outside the lock) and drops the canceller. Returns whether it was first.
  bool complete(Result<RunResult> outcome);
  /// Registers a callback; runs it at once, on this thread, if the run has ended.
  void on_complete(Callback callback);
  /// Asks the run to stop, if it still runs. Safe from any thread, any number of times.
  void cancel();
  /// Installs how to stop the run (called once, by the Runtime, before the run starts).
  void set_canceller(std::function<void()> canceller);
  /// Drops the canceller without calling it (it holds a handle into the actor system).
  void drop_canceller();

  const std::uint64_t id;
  const std::shared_ptr<RunMeter> meter; // shared with the run's actors
  // Set once, before the run's actors start (none for a run that never started).
  std::string name;                           // the durable run id, else `id` in decimal
  std::shared_ptr<EventHub> events;           // shared with the run's actors
  std::shared_ptr<InterruptBoard> interrupts; // shared with the run's actors
  mutable std::mutex mutex;
  std::condition_variable ended;
  std::optional<Result<RunResult>> outcome; // guarded by mutex; set once
  std::vector<Callback> callbacks;          // guarded by mutex; emptied by complete()
  std::function<void()> canceller;          // guarded by mutex
};

} // namespace actorflow::detail
