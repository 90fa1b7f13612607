#include "actors/scheduler.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>

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

template <class Policy>
class Coordinator final : public caf::scheduler::coordinator<Policy> {
  using Base = caf::scheduler::coordinator<Policy>;

public:
  Coordinator(caf::actor_system& system, caf::actor_clock* virtual_clock)
      : Base(system), clock_(virtual_clock ? *virtual_clock : Base::clock()) {}

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

private:
  ForwardingClock clock_;
};

} // namespace

void install_scheduler(caf::actor_system_config& cfg, SchedulerPolicy policy,
                       caf::actor_clock* virtual_clock) {
  cfg.module_factories.push_back(
      [policy, virtual_clock](caf::actor_system& system) -> caf::actor_system::module* {
        if (policy == SchedulerPolicy::sharing)
          return new Coordinator<caf::policy::work_sharing>(system, virtual_clock);
        return new Coordinator<caf::policy::work_stealing>(system, virtual_clock);
      });
}

} // namespace actorflow::actors
