#pragma once
// The `stealing` scheduler policy (SchedulerPolicy::stealing, the default).

#include "actors/scheduler/job_ring.hpp"
#include "actors/scheduler/worker_hooks.hpp"

#include <caf/policy/unprofiled.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

namespace actorflow::actors {

// A worker's count of finished jobs on a cache line of its own: it is written after every job,
// and thieves read it, so it must not share a line with the queue they poll.
struct alignas(64) FinishedCount {
  std::atomic<std::uint64_t> value{0};
};

// A queue per worker, and affinity: what a worker's actors schedule (a spawned actor, an
// actor woken by a message they send) joins that worker's own queue and runs there, where its
// memory is in cache and its allocations are freed by the thread that made them. An idle
// worker steals from another's queue only where that pays:
// - It steals one job and times it. A job that runs for less than `worth_stealing` costs
//   more to move between cores (cache misses, allocator and reference-count traffic) than it
//   saves, so the thief backs off (50 µs, doubling up to 1 ms) before it tries again. A job
//   that runs longer lets it steal again at once: CPU-bound items spread over all workers.
// - A worker that has finished no job for 2 ms is stuck (an actor blocks its thread, or runs
//   long): the thief takes half of its queue at once.
// - A thief that may steal now sleeps until a job is queued anywhere; one that waits for its
//   next theft sleeps until then (1 ms at most). So a job waits at most a few milliseconds
//   behind an actor that runs long or blocks its worker.
// Jobs from outside the workers (the host's threads, timers) go to a shared queue that every
// worker looks at first.
//
// Measured with `actorflow bench fanout` on 2 cores: a batch of no-op items took 2.2 µs per
// item with work sharing (item actors crossing between the cores), 1.3 µs with this; items
// with 5 µs or more of CPU work each still spread over both cores (`--exec-cpu-us`).
class AffineStealing : public caf::policy::unprofiled {
public:
  using Clock = std::chrono::steady_clock;

  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {}
    LockedRing shared; // jobs from outside the workers
    std::mutex sleep_lock;
    std::condition_variable wakeup;
    std::atomic<int> sleepers{0};
    std::atomic<int> eager_sleepers{0}; // sleepers that would steal now: woken by a backlog
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {}
    // CAF copies one initial value per worker: each gets a fresh queue.
    worker_data(const worker_data&) {}

    LockedRing queue;
    // Jobs this worker finished; written by it alone, read by thieves to see it is stuck.
    FinishedCount finished;
    // The rest is this worker's own bookkeeping as a thief.
    caf::resumable* timed = nullptr; // the stolen job being timed
    Clock::time_point timed_start{};
    Clock::duration backoff{0};     // zero: stealing pays
    Clock::time_point next_theft{}; // no theft before
    // Each victim's `finished` as this worker last looked (with jobs queued there), when it
    // looked, and since when it has looked without seeing it change.
    struct Progress {
      std::uint64_t finished = 0;
      Clock::time_point looked{};
      Clock::time_point since{};
    };
    std::vector<Progress> seen;
    std::uint64_t takes = 0;         // jobs asked for: every 64th looks for stuck workers
    Clock::time_point next_rescue{}; // ... at most once a millisecond
    bool took_shared = false;        // the last job came from the shared queue
  };

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    auto& data = d(self);
    data.shared.push(job);
    wake_sleepers(data, false);
  }
  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    d(self).queue.push(job);
    wake_sleepers(d(self->parent()), true); // for this worker in particular (CAF's shutdown)
  }
  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    push_local(self, job);
  }
  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    push_local(self, job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    detach_caf_logger();
    for (;;) {
      for (int poll = 0; poll < polls_before_sleep; ++poll) {
        if (auto* job = take(self))
          return job;
        cpu_pause();
      }
      idle(self);
    }
  }

  template <class Worker>
  void before_resume(Worker* self, caf::resumable* job) {
    if (job == d(self).timed)
      d(self).timed_start = Clock::now();
  }

  template <class Worker>
  void after_resume(Worker* self, caf::resumable* job) {
    auto& own = d(self);
    // Only this thread writes it: a plain increment, no locked instruction.
    own.finished.value.store(own.finished.value.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
    if (job != own.timed)
      return;
    own.timed = nullptr;
    const auto now = Clock::now();
    if (now - own.timed_start >= worth_stealing) {
      own.backoff = Clock::duration{0};
    } else {
      own.backoff = own.backoff == Clock::duration{0}
                        ? Clock::duration{first_backoff}
                        : std::min<Clock::duration>(own.backoff * 2, max_backoff);
    }
    own.next_theft = now + own.backoff;
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker* self, UnaryFunction f) {
    d(self).queue.drain(f);
  }

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    d(self).shared.drain(f);
  }

private:
  static constexpr int polls_before_sleep = 512; // about 20 µs
  static constexpr auto worth_stealing = std::chrono::microseconds{4};
  static constexpr auto first_backoff = std::chrono::microseconds{50};
  static constexpr auto max_backoff = std::chrono::milliseconds{1};
  // A worker that finished no job for this long is stuck (an actor blocks it, or runs long).
  // Not shorter: a batch actor may spend a few hundred microseconds on one mailbox's worth of
  // outcomes, and that is progress.
  static constexpr auto stuck_after = std::chrono::milliseconds{2};

  // A job for this worker's own queue (its thread, or CAF's response promises from another).
  // Eager sleepers (their next theft is due) hear of it: this worker may be about to run
  // something long, or to block. Sleepers that wait for their next theft do not: they look
  // again when it is due. In a batch of short items the thief waits, so the items stay here.
  template <class Worker>
  void push_local(Worker* self, caf::resumable* job) {
    auto& data = d(self->parent());
    d(self).queue.push(job);
    if (data.eager_sleepers.load(std::memory_order_seq_cst) > 0)
      wake_sleepers(data, true);
  }

  static void wake_sleepers(coordinator_data& data, bool all) {
    if (data.sleepers.load(std::memory_order_seq_cst) == 0)
      return;
    std::lock_guard guard{data.sleep_lock};
    if (all)
      data.wakeup.notify_all();
    else
      data.wakeup.notify_one();
  }

  // This worker's next job: from the shared queue and its own in turn (so that neither timers
  // and the host's messages nor the worker's own jobs wait behind a stream of the other), else
  // a stolen one. A busy worker also looks for stuck ones now and then: it would otherwise
  // never steal, and a job behind a blocked actor would wait for as long as it stays busy.
  template <class Worker>
  caf::resumable* take(Worker* self) {
    auto& own = d(self);
    auto& shared = d(self->parent()).shared;
    if (++own.takes % 64 == 0)
      if (auto* job = steal(self, true))
        return job;
    const bool shared_first = !own.took_shared;
    own.took_shared = false;
    if (shared_first) {
      if (auto* job = shared.pop()) {
        own.took_shared = true;
        return job;
      }
    }
    if (auto* job = own.queue.pop())
      return job;
    if (!shared_first) {
      if (auto* job = shared.pop()) {
        own.took_shared = true;
        return job;
      }
    }
    return steal(self);
  }

  // Whether the worker `index`, which has jobs queued, is stuck: it has finished no job for
  // `stuck_after` while this worker kept looking (looks far apart prove nothing: it may have
  // been idle in between).
  static bool looks_stuck(worker_data& own, std::size_t index, std::uint64_t finished,
                          Clock::time_point now) {
    auto& seen = own.seen[index];
    if (finished != seen.finished || now - seen.looked > stuck_after) {
      seen.finished = finished;
      seen.since = now;
    }
    seen.looked = now;
    return now - seen.since >= stuck_after;
  }

  // Takes the older half of `victim`'s jobs: runs the first, queues the rest here (and tells
  // eager sleepers, as for any job queued here: the first may block too).
  template <class Worker>
  caf::resumable* take_half(Worker* self, worker_data& victim) {
    std::vector<caf::resumable*> loot;
    victim.queue.pop_half(loot);
    if (loot.empty())
      return nullptr;
    for (std::size_t i = 1; i < loot.size(); ++i)
      push_local(self, loot[i]);
    d(self).backoff = Clock::duration{0};
    return loot.front();
  }

  // A theft from another worker's queue: half of it if that worker is stuck, else one job to
  // be timed, once the last theft's backoff is over. `stuck_only`: a busy worker's look for
  // stuck workers (at most once a millisecond).
  template <class Worker>
  caf::resumable* steal(Worker* self, bool stuck_only = false) {
    auto* parent = self->parent();
    const auto workers = parent->num_workers();
    auto& own = d(self);
    std::optional<Clock::time_point> now;
    for (std::size_t k = 1; k < workers; ++k) {
      const auto index = (self->id() + k) % workers;
      auto& victim = d(parent->worker_by_id(index));
      if (victim.queue.size() == 0)
        continue;
      if (!now) {
        now = Clock::now();
        if (*now < (stuck_only ? own.next_rescue : own.next_theft))
          return nullptr; // not yet
        if (stuck_only)
          own.next_rescue = *now + std::chrono::milliseconds{1};
        own.seen.resize(workers);
      }
      if (looks_stuck(own, index, victim.finished.value.load(std::memory_order_relaxed), *now)) {
        if (auto* job = take_half(self, victim))
          return job;
        continue;
      }
      if (stuck_only)
        continue;
      if (auto* job = victim.queue.pop()) {
        own.timed = job;
        return job;
      }
    }
    return nullptr;
  }

  // Sleeps until woken, or until the next theft is due while stealing does not pay.
  template <class Worker>
  void idle(Worker* self) {
    auto& own = d(self);
    auto& data = d(self->parent());
    std::unique_lock guard{data.sleep_lock};
    const auto now = Clock::now();
    const bool eager = now >= own.next_theft;
    data.sleepers.fetch_add(1, std::memory_order_seq_cst);
    if (eager)
      data.eager_sleepers.fetch_add(1, std::memory_order_seq_cst);
    if (!has_work(self, eager)) {
      if (eager)
        data.wakeup.wait(guard);
      else
        data.wakeup.wait_until(guard, own.next_theft);
    }
    if (eager)
      data.eager_sleepers.fetch_sub(1, std::memory_order_seq_cst);
    data.sleepers.fetch_sub(1, std::memory_order_seq_cst);
  }

  template <class Worker>
  bool has_work(Worker* self, bool may_steal) {
    auto* parent = self->parent();
    if (d(self).queue.size() != 0 || d(parent).shared.size() != 0)
      return true;
    if (may_steal)
      for (std::size_t i = 0; i < parent->num_workers(); ++i)
        if (d(parent->worker_by_id(i)).queue.size() != 0)
          return true;
    return false;
  }
};

} // namespace actorflow::actors
