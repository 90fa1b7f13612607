#pragma once
// The job queues of the scheduler policies: a ring that allocates nothing once grown, and the
// same under a lock with a size that pollers read without it.

#include <caf/resumable.hpp>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace actorflow::actors {

// Jobs in arrival order: a ring over a power-of-two vector that doubles when full, so that
// enqueueing allocates nothing once it has grown (CAF's work sharing allocates a list node
// per enqueue and frees it per dequeue, two allocator calls per message to an idle actor).
class JobRing {
public:
  [[nodiscard]] bool empty() const noexcept { return head_ == tail_; }
  [[nodiscard]] std::size_t size() const noexcept { return tail_ - head_; }

  void push(caf::resumable* job) {
    if (size() == slots_.size())
      grow();
    slots_[tail_++ & (slots_.size() - 1)] = job;
  }

  caf::resumable* pop() noexcept { return slots_[head_++ & (slots_.size() - 1)]; }

  void swap(JobRing& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(head_, other.head_);
    std::swap(tail_, other.tail_);
  }

private:
  void grow() {
    std::vector<caf::resumable*> bigger(slots_.empty() ? 1024 : slots_.size() * 2);
    const auto n = size();
    for (std::size_t i = 0; i < n; ++i)
      bigger[i] = slots_[(head_ + i) & (slots_.size() - 1)];
    slots_ = std::move(bigger);
    head_ = 0;
    tail_ = n;
  }

  std::vector<caf::resumable*> slots_;
  std::size_t head_ = 0; // both only grow; their difference is the size
  std::size_t tail_ = 0;
};

// A JobRing under a lock, with its size readable without the lock (for polling).
class LockedRing {
public:
  /// Returns the size after the push.
  std::size_t push(caf::resumable* job) {
    std::lock_guard guard{lock_};
    ring_.push(job);
    const auto n = ring_.size();
    size_.store(n, std::memory_order_seq_cst); // before the pusher reads the sleeper count
    return n;
  }

  /// The oldest job, or null.
  caf::resumable* pop() {
    if (size_.load(std::memory_order_relaxed) == 0)
      return nullptr;
    std::lock_guard guard{lock_};
    if (ring_.empty())
      return nullptr;
    auto* job = ring_.pop();
    size_.store(ring_.size(), std::memory_order_relaxed);
    return job;
  }

  /// Moves the older half of the jobs (at least one, if any) to `out`.
  void pop_half(std::vector<caf::resumable*>& out) {
    std::lock_guard guard{lock_};
    for (auto n = (ring_.size() + 1) / 2; n > 0; --n)
      out.push_back(ring_.pop());
    size_.store(ring_.size(), std::memory_order_relaxed);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_.load(std::memory_order_seq_cst); }

  /// Runs `f` on each job until none is left (at shutdown), without the lock: a job's cleanup
  /// may enqueue (a destructor that sends), which takes it.
  template <class F>
  void drain(F f) {
    for (;;) {
      JobRing jobs;
      {
        std::lock_guard guard{lock_};
        jobs.swap(ring_);
        size_.store(0);
      }
      if (jobs.empty())
        return;
      while (!jobs.empty())
        f(jobs.pop());
    }
  }

private:
  std::mutex lock_;
  JobRing ring_;
  std::atomic<std::size_t> size_{0};
};

} // namespace actorflow::actors
