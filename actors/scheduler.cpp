#include "actors/scheduler.hpp"

#include "actors/virtual_clock.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/logger.hpp>
#include <caf/policy/unprofiled.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace actorflow::actors {

namespace {

// Forwards every operation to the coordinator's clock (the one its timer thread serves) or to a
// virtual clock, except the termination-time cancellation of actors known to have set no
// timeout.
// It derives from thread_safe_actor_clock only because the coordinator's clock() must return
// one; its own queue stays unused.
class ForwardingClock final : public caf::detail::thread_safe_actor_clock {
public:
  explicit ForwardingClock(caf::actor_clock& target) : target_(&target) {}

  time_point now() const noexcept override { return target_->now(); }

  duration_type difference(caf::atom_value measurement, long units, time_point t0,
                           time_point t1) const noexcept override {
    return target_->difference(measurement, units, t0, t1);
  }

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            std::uint64_t id) override {
    mark(self);
    target_->set_ordinary_timeout(t, self, type, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         std::uint64_t id) override {
    mark(self);
    target_->set_multi_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override {
    mark(self);
    target_->set_request_timeout(t, self, id);
  }

  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    target_->cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    target_->cancel_request_timeout(self, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    if (auto* tracked = as_timeout_tracked(self); tracked && !tracked->armed_timeout())
      return; // nothing of this actor's is scheduled: skip the timer thread's round trip
    target_->cancel_timeouts(self);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    target_->schedule_message(t, std::move(receiver), std::move(content));
  }

  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    target_->schedule_message(t, std::move(target), std::move(sender), std::move(content));
  }

  void cancel_all() override { target_->cancel_all(); }

private:
  static void mark(caf::abstract_actor* self) {
    if (auto* tracked = as_timeout_tracked(self))
      tracked->mark_armed_timeout();
  }

  caf::actor_clock* target_;
};

// CAF 0.17 tags every resume, launch and destruction of an actor with the actor's id for its
// logger: a lookup, under a spin lock that all workers share, in a map keyed by thread. It does
// so although Debian's CAF is built with logging off (CAF_LOG_LEVEL_QUIET), and it cost a tenth
// of a batch's time. The tags are skipped on a thread without a current logger, so a worker
// drops the one CAF gives it (when the worker starts, and at every `spawn`) before it takes a
// job. With logging built in, the logger is kept.
void detach_caf_logger() {
#if CAF_LOG_LEVEL == CAF_LOG_LEVEL_QUIET
  if (caf::logger::current_logger() != nullptr)
    caf::logger::set_current_actor_system(nullptr);
#endif
}

// One step of a polling loop: tells the core it spins (saves power, frees a hyperthread).
void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

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
    Clock::duration backoff{0};       // zero: stealing pays
    Clock::time_point next_theft{};   // no theft before
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
    wake(data, false);
  }
  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    d(self).queue.push(job);
    wake(d(self->parent()), true); // for this worker in particular (CAF's shutdown)
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
      sleep(self);
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
      wake(data, true);
  }

  static void wake(coordinator_data& data, bool all) {
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
  void sleep(Worker* self) {
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

// On a virtual clock, a test must not move time while actors still have work: it could fire a
// timer before an actor that is about to set an earlier one has done so. This policy counts
// jobs queued or running (CAF's worker calls after_resume once per resume; with unlimited
// throughput an actor is never put back in the queue by its worker), so that the clock can
// wait for the system to be idle. Used only with a virtual clock.
template <class Base>
class IdleCounting : public Base {
public:
  struct coordinator_data : Base::coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator* owner)
        : Base::coordinator_data(owner) {}
    std::atomic<long> busy{0};
    detail::VirtualActorClock* clock = nullptr;
  };

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    ++Base::d(self).busy;
    Base::central_enqueue(self, job);
  }
  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    ++Base::d(self->parent()).busy;
    Base::external_enqueue(self, job);
  }
  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    ++Base::d(self->parent()).busy;
    Base::internal_enqueue(self, job);
  }
  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    ++Base::d(self->parent()).busy;
    Base::resume_job_later(self, job);
  }
  template <class Worker>
  void after_resume(Worker* self, caf::resumable* job) {
    Base::after_resume(self, job);
    auto& data = Base::d(self->parent());
    if (--data.busy == 0 && data.clock)
      data.clock->poke();
  }
};

template <class Policy>
class Coordinator final : public caf::scheduler::coordinator<Policy> {
  using Base = caf::scheduler::coordinator<Policy>;

public:
  Coordinator(caf::actor_system& system, detail::VirtualActorClock* virtual_clock)
      : Base(system),
        clock_(virtual_clock ? static_cast<caf::actor_clock&>(*virtual_clock) : Base::clock()) {
    if constexpr (requires { this->data().busy; }) {
      if (virtual_clock) {
        this->data().clock = virtual_clock;
        virtual_clock->set_idle_probe([this] { return this->data().busy.load() == 0; });
        virtual_clock_ = virtual_clock;
      }
    }
  }
  // The clock may outlive this system (a test reuses it): it must not probe a freed one.
  ~Coordinator() override {
    if (virtual_clock_)
      virtual_clock_->set_idle_probe({});
  }

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

private:
  ForwardingClock clock_;
  detail::VirtualActorClock* virtual_clock_ = nullptr;
};

// CAF's `Policy`, counting jobs when time is virtual.
template <class Policy>
caf::actor_system::module* make_coordinator(caf::actor_system& system,
                                            detail::VirtualActorClock* virtual_clock) {
  if (virtual_clock)
    return new Coordinator<IdleCounting<Policy>>(system, virtual_clock);
  return new Coordinator<Policy>(system, nullptr);
}

} // namespace

void install_scheduler(caf::actor_system_config& cfg, SchedulerPolicy policy,
                       detail::VirtualActorClock* virtual_clock) {
  // An actor handles at most this many messages per turn, then lets the others queued on its
  // worker run (CAF's default is no limit). A batch actor that gets outcomes as fast as it
  // handles them would otherwise never end its turn: the jobs it spawns would wait on its
  // worker, and thieves would take its worker for stuck. 128 measured best with
  // `bench fanout` (32: 1.41, 128: 1.27-1.33, 512: 1.30-1.40 µs per item).
  std::int64_t max_throughput = 128;
  if (virtual_clock) // idle counting relies on workers never re-queueing an actor themselves
    max_throughput = std::numeric_limits<std::int64_t>::max();
  cfg.set("scheduler.max-throughput", max_throughput);
  cfg.module_factories.push_back(
      [policy, virtual_clock](caf::actor_system& system) -> caf::actor_system::module* {
        if (policy == SchedulerPolicy::sharing)
          return make_coordinator<PollingSharing>(system, virtual_clock);
        return make_coordinator<AffineStealing>(system, virtual_clock);
      });
}

} // namespace actorflow::actors
