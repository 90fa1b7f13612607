#include "actors/scheduler.hpp"

#include "actors/virtual_clock.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <atomic>
#include <limits>

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
  if (virtual_clock) // idle counting relies on workers never re-queueing an actor themselves
    cfg.set("scheduler.max-throughput", std::numeric_limits<std::int64_t>::max());
  cfg.module_factories.push_back(
      [policy, virtual_clock](caf::actor_system& system) -> caf::actor_system::module* {
        if (policy == SchedulerPolicy::sharing)
          return make_coordinator<caf::policy::work_sharing>(system, virtual_clock);
        return make_coordinator<caf::policy::work_stealing>(system, virtual_clock);
      });
}

} // namespace actorflow::actors
