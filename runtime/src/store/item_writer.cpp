#include "store/item_writer.hpp"

#include <utility>

namespace actorflow::detail {

ItemWriter::ItemWriter(CheckpointStorePtr store, std::string run_id, std::function<double()> cost)
    : store_(std::move(store)), run_id_(std::move(run_id)), cost_(std::move(cost)),
      thread_([this] { loop(); }) {}

ItemWriter::~ItemWriter() {
  {
    std::lock_guard lock{mutex_};
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void ItemWriter::add(ItemCheckpoint item) {
  bool was_empty = false;
  {
    std::lock_guard lock{mutex_};
    if (error_)
      return;
    was_empty = queue_.empty();
    queue_.push_back(std::move(item));
    ++added_;
  }
  // The thread sleeps only on an empty queue: one wake-up per group, not per item (a futex
  // call per item cost as much as the item's whole fan-out).
  if (was_empty)
    wake_.notify_one();
}

Result<void> ItemWriter::flush() {
  std::unique_lock lock{mutex_};
  const auto target = added_;
  written_.wait(lock, [&] { return written_count_ >= target || error_.has_value(); });
  if (error_)
    return *error_;
  return {};
}

void ItemWriter::loop() {
  std::vector<ItemCheckpoint> group;
  std::unique_lock lock{mutex_};
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty())
      return; // stopping, and nothing left to write
    group.swap(queue_);
    lock.unlock();
    // Whatever queued while the last group was written goes in one transaction: the groups
    // grow with the load, so a fast batch pays for few commits.
    auto committed = store_->commit_items(run_id_, group, cost_ ? cost_() : 0.0);
    const auto count = group.size();
    group.clear();
    lock.lock();
    if (!committed && !error_)
      error_ = committed.error();
    written_count_ += count;
    written_.notify_all();
  }
}

} // namespace actorflow::detail
