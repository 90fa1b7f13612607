#pragma once
// Commits the item outcomes of one durable run in groups, on a thread of its own, so that a
// batch's actors never wait for the store while items are still running.

#include <actorflow/checkpoint.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace actorflow::detail {

/// Commits item outcomes of one run in groups: `add` queues (and returns at once), the
/// writer's thread commits whatever has queued in one transaction, `flush` waits for all
/// that was added before it. The first failed commit is kept: `flush` returns it, and every
/// later `add` is dropped (the run fails at its next flush, never silently).
///
/// Thread-safe. The destructor commits what is queued, then joins.
class ItemWriter {
public:
  /// `cost`: the run's cost so far, asked for with each commit (none: 0, the store keeps what
  /// it has); called on the writer's thread.
  ItemWriter(CheckpointStorePtr store, std::string run_id, std::function<double()> cost = {});
  ~ItemWriter();
  ItemWriter(const ItemWriter&) = delete;
  ItemWriter& operator=(const ItemWriter&) = delete;

  void add(ItemCheckpoint item);
  [[nodiscard]] Result<void> flush();

private:
  void loop();

  const CheckpointStorePtr store_;
  const std::string run_id_;
  const std::function<double()> cost_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;                // the thread: items queued, or stop
  std::condition_variable written_;             // flushers: a group was committed
  std::vector<ItemCheckpoint> queue_;           // guarded by mutex_
  std::uint64_t added_ = 0, written_count_ = 0; // guarded by mutex_
  std::optional<Error> error_;                  // guarded by mutex_
  bool stop_ = false;                           // guarded by mutex_
  std::thread thread_;
};

} // namespace actorflow::detail
