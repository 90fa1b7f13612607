#pragma once
// What a supervisor decides, as plain logic: whether an attempt may start, and what follows a
// failed one (a retry after a backoff, the end, or a fast failure because the circuit is open).
// The actor side (actors/supervisor.hpp) arms the timers and reports each step; this class
// holds the policy and the circuit, and takes the time and the randomness as arguments, so
// that every decision can be reproduced in a test.

#include <actorflow/retry.hpp>

#include "core/circuit_breaker.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace actorflow::detail {

class Supervision {
public:
  using TimePoint = CircuitBreaker::TimePoint;

  /// Supervises under `policy`; none: one attempt, no circuit.
  explicit Supervision(std::optional<RetryPolicy> policy);

  /// The policy, or null when there is none.
  [[nodiscard]] const RetryPolicy* policy() const noexcept { return policy_ ? &*policy_ : nullptr; }
  /// Whether a failure can ever be retried (so that the work's input must be kept).
  [[nodiscard]] bool may_retry() const noexcept { return policy_ && policy_->max_attempts > 1; }
  /// Each attempt's time limit; zero: none.
  [[nodiscard]] Millis attempt_timeout() const noexcept {
    return policy_ ? policy_->attempt_timeout : Millis{0};
  }
  /// Whether the policy retries `error` after attempt number `attempt`.
  [[nodiscard]] bool retryable(const Error& error, std::uint32_t attempt) const {
    return policy_ && policy_->should_retry(error, attempt);
  }

  /// May an attempt start at `now`? Not while the circuit is open (the work then fails fast);
  /// after the cool-down one probe is let through.
  [[nodiscard]] bool admit(TimePoint now) { return breaker_.allow(now); }

  /// An attempt succeeded (a probe closes the circuit).
  void succeeded() { breaker_.record_success(); }

  /// What follows a failed attempt.
  struct AfterFailure {
    enum class Next : std::uint8_t {
      retry,       ///< after `delay`
      give_up,     ///< the failure is the outcome
      circuit_open ///< retryable, but the circuit is open: the work fails fast
    };
    Next next = Next::give_up;
    Millis delay{0};
    bool opened_circuit = false; ///< this failure opened the circuit
  };
  /// Attempt number `attempt` failed at `now` with `error`. `retryable`: the policy retries it,
  /// as decided where the failure was seen (a failed fallback is final whatever its error).
  /// `previous_delay`: the backoff before that attempt (zero before the first retry);
  /// `uniform01`: a sample in [0, 1) for the jitter.
  [[nodiscard]] AfterFailure failed(const Error& error, std::uint32_t attempt, bool retryable,
                                    Millis previous_delay, TimePoint now, double uniform01);

  /// Times the circuit has opened.
  [[nodiscard]] std::uint64_t times_opened() const noexcept { return breaker_.times_opened(); }

private:
  std::optional<RetryPolicy> policy_;
  CircuitBreaker breaker_;
};

} // namespace actorflow::detail
