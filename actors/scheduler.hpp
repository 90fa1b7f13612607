#pragma once
// actorflow's CAF scheduler: CAF's own coordinator and worker threads, with actorflow's policies
// for sharing out jobs (actors to run), and a clock that does not pay a round trip to the timer
// thread for every actor that terminates.
//
// The policies (actors/scheduler.cpp) are measured with `actorflow bench fanout`:
// - stealing (the default): a queue per worker with affinity; idle workers steal only jobs
//   long enough to pay for the move between cores;
// - sharing: one queue, without CAF's allocation per job, and idle workers poll briefly before
//   they sleep.
// Both keep CAF's logger off the workers (CAF 0.17 looks up a map under a shared lock at every
// resume, although Debian's CAF logs nothing).
//
// The clock: CAF 0.17 cancels an actor's timeouts when it terminates by posting an event to the
// clock's thread (an allocation, a mutex and a condition-variable broadcast that wakes that
// thread), even when the actor never set a timeout. A batch of a million items is a million
// short-lived actors, and that round trip was the largest single cost of the fan-out. Item
// actors derive from TimeoutTracked; the clock skips the cancellation for those that never set
// one, and forwards everything else unchanged.
//
// The clock finds the TimeoutTracked part of an actor through `as_timeout_tracked`, which the
// item actor implements with an exact type check: a dynamic_cast on every termination cost more
// than it saved.

#include <actorflow/runtime.hpp>

#include <caf/fwd.hpp>

namespace actorflow::detail {
class VirtualActorClock;
} // namespace actorflow::detail

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

/// The TimeoutTracked part of `actor`, or null when it has none. Implemented by the item actor
/// (actors/node_actor.cpp).
TimeoutTracked* as_timeout_tracked(caf::abstract_actor* actor) noexcept;

/// Makes the actor system built from `cfg` use actorflow's scheduler with CAF's `policy`. With
/// `virtual_clock`, every timer runs on that clock instead of real time (tests); it must
/// outlive the actor system.
void install_scheduler(caf::actor_system_config& cfg, SchedulerPolicy policy,
                       detail::VirtualActorClock* virtual_clock = nullptr);

} // namespace actorflow::actors
