#include "core/supervision.hpp"

namespace actorflow::detail {

Supervision::Supervision(std::optional<RetryPolicy> policy)
    : policy_(std::move(policy)), breaker_(policy_ ? policy_->circuit : CircuitPolicy{}) {}

Supervision::AfterFailure Supervision::failed(const Error& error, std::uint32_t attempt,
                                              bool retryable, Millis previous_delay, TimePoint now,
                                              double uniform01) {
  AfterFailure after;
  const auto opened_before = breaker_.times_opened();
  breaker_.record_failure(now);
  after.opened_circuit = breaker_.times_opened() != opened_before;
  if (!retryable || !policy_)
    return after; // give_up
  if (breaker_.state() == CircuitBreaker::State::open) {
    after.next = AfterFailure::Next::circuit_open;
    return after;
  }
  after.next = AfterFailure::Next::retry;
  after.delay = retry_delay(*policy_, error, attempt, previous_delay, uniform01);
  return after;
}

} // namespace actorflow::detail
