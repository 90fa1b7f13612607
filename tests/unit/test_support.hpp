#pragma once
// Small helpers shared by the runtime-level test areas.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

namespace actorflow::testing_support {

inline RuntimeConfig two_workers() {
  return RuntimeConfig{.worker_threads = 2, .nodes = {}, .log = {}};
}

inline Flow must(Result<Flow> flow) {
  REQUIRE_MESSAGE(flow.ok(), (flow.ok() ? "" : flow.error().to_string()));
  return std::move(*flow);
}

/// Waits (with a bound) until `pred` holds; the event comes from another thread.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds bound = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::yield();
  }
  return true;
}

/// Moves virtual time from timer to timer until `run` ends (bounded in real time), and
/// returns its result. Timers fire in due order, as real time would fire them.
inline Result<RunResult> drive(const RunHandle& run, testing::VirtualClock& clock,
                               std::chrono::seconds bound = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (!run.done()) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, "the run did not end in time");
    REQUIRE(clock.wait_until_idle());
    if (!run.done())
      REQUIRE_MESSAGE(clock.advance_to_next(), "the run waits, but on no timer");
  }
  return run.get();
}

} // namespace actorflow::testing_support
