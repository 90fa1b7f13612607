#pragma once
// The `sharing` scheduler policy (SchedulerPolicy::sharing).

#include "actors/scheduler/job_ring.hpp"
#include "actors/scheduler/worker_hooks.hpp"

#include <caf/policy/unprofiled.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace actorflow::actors {

// One queue that every worker takes from (CAF's work sharing), with two changes measured with
// `actorflow bench fanout`:
// - The queue is a JobRing: no allocation per job.
// - An idle worker polls the queue for a short while before it sleeps, and a job wakes a
//   worker only when one sleeps. In a batch, jobs arrive every microsecond or two; CAF's
//   policy puts the idle worker to sleep on its condition variable and wakes it with a futex
//   call for nearly every job, and those two system calls cost more than the job itself.
//   Polling is bounded (about 20 µs), so an idle runtime still sleeps.
class PollingSharing : public caf::policy::unprofiled {
public:
  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {}
    std::mutex lock;
    std::condition_variable wakeup;
    JobRing queue;                    // guarded by lock
    std::size_t sleepers = 0;         // guarded by lock
    std::atomic<std::size_t> size{0}; // the queue's, read without the lock while polling
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {}
  };

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    push(d(self), job);
  }
  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job);
  }
  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job);
  }
  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    detach_caf_logger();
    auto& data = d(self->parent());
    for (int poll = 0; poll < polls_before_sleep; ++poll) {
      if (data.size.load(std::memory_order_relaxed) != 0) {
        std::unique_lock guard{data.lock};
        if (!data.queue.empty())
          return pop(data);
      }
      cpu_pause();
    }
    std::unique_lock guard{data.lock};
    ++data.sleepers;
    data.wakeup.wait(guard, [&] { return !data.queue.empty(); });
    --data.sleepers;
    return pop(data);
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker*, UnaryFunction) {
    // no queue per worker
  }

  // At shutdown. `f` runs without the lock: a job's cleanup may enqueue (a destructor that
  // sends), which takes the lock.
  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    auto& data = d(self);
    for (;;) {
      JobRing jobs;
      {
        std::lock_guard guard{data.lock};
        jobs.swap(data.queue);
        data.size.store(0);
      }
      if (jobs.empty())
        return;
      while (!jobs.empty())
        f(jobs.pop());
    }
  }

private:
  // About 20 µs of polling at a few dozen cycles per pause.
  static constexpr int polls_before_sleep = 512;

  static void push(coordinator_data& data, caf::resumable* job) {
    bool wake;
    {
      std::lock_guard guard{data.lock};
      data.queue.push(job);
      data.size.store(data.queue.size(), std::memory_order_relaxed);
      wake = data.sleepers != 0;
    }
    if (wake)
      data.wakeup.notify_one();
  }

  // With the lock held and the queue not empty.
  static caf::resumable* pop(coordinator_data& data) noexcept {
    auto* job = data.queue.pop();
    data.size.store(data.queue.size(), std::memory_order_relaxed);
    return job;
  }
};

} // namespace actorflow::actors
