#pragma once
// The state machine of one circuit (CircuitPolicy): closed, open after too many failures in a
// window, half-open after the cool-down. Plain logic on a time the caller passes in.

#include <actorflow/retry.hpp>

#include <chrono>
#include <cstdint>
#include <deque>

namespace actorflow::detail {

/// Not thread-safe: it lives inside one supervisor.
class CircuitBreaker {
public:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class State : std::uint8_t { closed, open, half_open };

  explicit CircuitBreaker(CircuitPolicy policy = {}) : policy_(policy) {}

  /// May an attempt start at `now`? Closed: yes. Open: no until the cool-down has passed,
  /// then the circuit turns half-open and lets exactly one probe through until that probe
  /// reports.
  [[nodiscard]] bool allow(TimePoint now);
  void record_success();
  void record_failure(TimePoint now);

  [[nodiscard]] State state() const noexcept { return state_; }
  /// When an open circuit lets its probe through.
  [[nodiscard]] TimePoint reopens_at() const noexcept { return opened_at_ + policy_.cool_down; }
  [[nodiscard]] std::uint64_t times_opened() const noexcept { return times_opened_; }

private:
  void open(TimePoint now);

  CircuitPolicy policy_;
  State state_ = State::closed;
  std::deque<TimePoint> recent_failures_; // within the window, oldest first
  TimePoint opened_at_{};
  bool probe_in_flight_ = false;
  std::uint64_t times_opened_ = 0;
};

} // namespace actorflow::detail
