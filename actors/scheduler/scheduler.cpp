// The coordinator: CAF's own, with actorflow's policies and its clock, and, on a virtual
// clock, a count of busy jobs so that a test can wait for the system to go idle.

#include "actors/scheduler/scheduler.hpp"

#include "actors/scheduler/forwarding_clock.hpp"
#include "actors/scheduler/sharing_policy.hpp"
#include "actors/scheduler/stealing_policy.hpp"
#include "actors/scheduler/virtual_clock.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <atomic>
#include <cstdint>
#include <limits>

namespace actorflow::actors {

namespace {

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
  Coordinator(caf::actor_system& system, TimeoutTrackedLookup tracked,
              detail::VirtualActorClock* virtual_clock)
      : Base(system),
        clock_(virtual_clock ? static_cast<caf::actor_clock&>(*virtual_clock) : Base::clock(),
               tracked) {
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
caf::actor_system::module* make_coordinator(caf::actor_system& system, TimeoutTrackedLookup tracked,
                                            detail::VirtualActorClock* virtual_clock) {
  if (virtual_clock)
    return new Coordinator<IdleCounting<Policy>>(system, tracked, virtual_clock);
  return new Coordinator<Policy>(system, tracked, nullptr);
}

} // namespace

void install_scheduler(caf::actor_system_config& cfg, SchedulerPolicy policy,
                       TimeoutTrackedLookup tracked, detail::VirtualActorClock* virtual_clock) {
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
      [policy, tracked, virtual_clock](caf::actor_system& system) -> caf::actor_system::module* {
        if (policy == SchedulerPolicy::sharing)
          return make_coordinator<PollingSharing>(system, tracked, virtual_clock);
        return make_coordinator<AffineStealing>(system, tracked, virtual_clock);
      });
}

} // namespace actorflow::actors
