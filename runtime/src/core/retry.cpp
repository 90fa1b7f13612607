#include <actorflow/retry.hpp>

#include <algorithm>
#include <cmath>

namespace actorflow {

bool RetryPolicy::should_retry(const Error& error, std::uint32_t attempt) const {
  if (attempt >= max_attempts)
    return false;
  return retry_on ? retry_on(error) : is_retryable(error.code);
}

namespace {

// initial * multiplier^(n-1), capped, computed in double so that large n saturates at the cap
// instead of overflowing.
double exponential_ms(const RetryPolicy& policy, std::uint32_t failed_attempt) {
  auto cap = static_cast<double>(policy.max_backoff.count());
  auto grown = static_cast<double>(policy.initial_backoff.count()) *
               std::pow(std::max(policy.multiplier, 1.0), failed_attempt - 1.0);
  return std::min(cap, grown);
}

Millis to_millis(double ms) {
  return Millis{static_cast<Millis::rep>(std::llround(std::max(ms, 0.0)))};
}

} // namespace

Millis retry_delay(const RetryPolicy& policy, const Error& error, std::uint32_t failed_attempt,
                   Millis previous, double uniform01) {
  if (error.retry_after)
    return *error.retry_after;
  failed_attempt = std::max<std::uint32_t>(failed_attempt, 1);
  uniform01 = std::clamp(uniform01, 0.0, 1.0);
  auto base = exponential_ms(policy, failed_attempt);
  switch (policy.jitter) {
    case Jitter::none:
      return to_millis(base);
    case Jitter::full:
      return to_millis(base * uniform01);
    case Jitter::equal:
      return to_millis(base / 2 + base / 2 * uniform01);
    case Jitter::decorrelated: {
      auto low = static_cast<double>(policy.initial_backoff.count());
      auto high = std::max(low, static_cast<double>(previous.count()) * 3);
      auto cap = static_cast<double>(policy.max_backoff.count());
      return to_millis(std::min(cap, low + (high - low) * uniform01));
    }
  }
  return to_millis(base);
}

} // namespace actorflow
