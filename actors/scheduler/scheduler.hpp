#pragma once
// actorflow's CAF scheduler: CAF's own coordinator and worker threads, with actorflow's policies
// for sharing out jobs (actors to run) and a clock that does not pay a round trip to the timer
// thread for every actor that terminates (scheduler/forwarding_clock.hpp).
//
// The policies, measured with `actorflow bench fanout`:
// - stealing (the default; scheduler/stealing_policy.hpp): a queue per worker with affinity;
//   idle workers steal only jobs long enough to pay for the move between cores;
// - sharing (scheduler/sharing_policy.hpp): one queue, without CAF's allocation per job, and
//   idle workers poll briefly before they sleep.
// Both keep CAF's logger off the workers (scheduler/worker_hooks.hpp).
//
// The scheduler depends on no other actor: what it needs to know of them (which actors track
// their timeouts) it is given.

#include <actorflow/runtime.hpp>

#include "actors/scheduler/forwarding_clock.hpp"

#include <caf/fwd.hpp>

namespace actorflow::detail {
class VirtualActorClock;
} // namespace actorflow::detail

namespace actorflow::actors {

/// Makes the actor system built from `cfg` use actorflow's scheduler with `policy`. `tracked`
/// finds the TimeoutTracked part of an actor (null for actors without one). With
/// `virtual_clock`, every timer runs on that clock instead of real time (tests); it must
/// outlive the actor system.
void install_scheduler(caf::actor_system_config& cfg, SchedulerPolicy policy,
                       TimeoutTrackedLookup tracked,
                       detail::VirtualActorClock* virtual_clock = nullptr);

} // namespace actorflow::actors
