#pragma once
// The clock the scheduler gives CAF: every timer operation forwarded to the real clock (or a
// virtual one), but the cancellation at termination of an actor that never set a timeout.
//
// CAF 0.17 cancels an actor's timeouts when it terminates by posting an event to the clock's
// thread (an allocation, a mutex and a condition-variable broadcast that wakes that thread),
// even when the actor never set a timeout. A batch of a million items is a million
// short-lived actors, and that round trip was the largest single cost of the fan-out. Actors
// that derive from TimeoutTracked record whether they ever set one; the clock finds that part
// of an actor through a lookup function it is given (the scheduler depends on no actor: the
// runtime passes the item actor's), and skips the cancellation for those that set none.

#include <caf/detail/thread_safe_actor_clock.hpp>

namespace actorflow::actors {

/// A base for actor classes: records whether the actor ever set a CAF timeout (a request
/// timeout, a receive timeout), so that its termination can skip cancelling none.
/// Only touched from the actor's own thread (setting a timeout and terminating both happen
/// inside the actor), so it needs no synchronisation.
class TimeoutTracked {
public:
  [[nodiscard]] bool armed_timeout() const noexcept { return armed_; }
  void mark_armed_timeout() noexcept { armed_ = true; }

protected:
  ~TimeoutTracked() = default;

private:
  bool armed_ = false;
};

/// The TimeoutTracked part of an actor, or null when it has none. Called at every timer
/// operation and termination: an exact type check, not a dynamic_cast.
using TimeoutTrackedLookup = TimeoutTracked* (*)(caf::abstract_actor* actor) noexcept;

// Forwards every operation to the coordinator's clock (the one its timer thread serves) or to a
// virtual clock, except the termination-time cancellation of actors known to have set no
// timeout.
// It derives from thread_safe_actor_clock only because the coordinator's clock() must return
// one; its own queue stays unused.
class ForwardingClock final : public caf::detail::thread_safe_actor_clock {
public:
  ForwardingClock(caf::actor_clock& target, TimeoutTrackedLookup tracked)
      : target_(&target), lookup_(tracked) {}

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

  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
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
    if (auto* tracked = lookup_(self); tracked && !tracked->armed_timeout())
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
  void mark(caf::abstract_actor* self) const {
    if (auto* tracked = lookup_(self))
      tracked->mark_armed_timeout();
  }

  caf::actor_clock* target_;
  TimeoutTrackedLookup lookup_;
};

} // namespace actorflow::actors
