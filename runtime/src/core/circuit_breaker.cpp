#include "core/circuit_breaker.hpp"

namespace actorflow::detail {

bool CircuitBreaker::allow(TimePoint now) {
  switch (state_) {
    case State::closed:
      return true;
    case State::open:
      if (now < reopens_at())
        return false;
      state_ = State::half_open;
      probe_in_flight_ = true;
      return true;
    case State::half_open:
      if (probe_in_flight_)
        return false;
      probe_in_flight_ = true;
      return true;
  }
  return true;
}

void CircuitBreaker::record_success() {
  if (policy_.max_failures == 0)
    return;
  if (state_ == State::half_open) {
    state_ = State::closed;
    probe_in_flight_ = false;
    recent_failures_.clear();
  }
}

void CircuitBreaker::record_failure(TimePoint now) {
  if (policy_.max_failures == 0)
    return;
  if (state_ == State::half_open) {
    probe_in_flight_ = false;
    return open(now); // the probe failed
  }
  if (state_ == State::open)
    return; // a straggler that started before the circuit opened
  recent_failures_.push_back(now);
  while (!recent_failures_.empty() && now - recent_failures_.front() > policy_.window)
    recent_failures_.pop_front();
  if (recent_failures_.size() >= policy_.max_failures)
    open(now);
}

void CircuitBreaker::open(TimePoint now) {
  state_ = State::open;
  opened_at_ = now;
  recent_failures_.clear();
  ++times_opened_;
}

} // namespace actorflow::detail
