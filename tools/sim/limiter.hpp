#pragma once
// The sim's rate limits: a token bucket for requests and one for tokens (see sim/sim.hpp for
// exactly how they count).

#include <actorflow/llm.hpp>

#include "sim/sim.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

namespace actorflow::tools::sim {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A token bucket refilled continuously. A call takes what it costs even when that is more than
// the bucket holds, so the level may go negative: a big call is paid for by the calls after it.
struct Bucket {
  std::uint64_t per_minute;
  double per_second;
  double capacity;
  double level;
  Clock::time_point refilled;

  Bucket(std::uint64_t limit_per_minute, double burst_s, Clock::time_point now)
      : per_minute(limit_per_minute), per_second(static_cast<double>(limit_per_minute) / 60.0),
        capacity(std::max(1.0, per_second * burst_s)), level(capacity), refilled(now) {}

  void refill(Clock::time_point now) {
    std::chrono::duration<double> elapsed = now - refilled;
    level = std::min(capacity, level + elapsed.count() * per_second);
    refilled = now;
  }
  [[nodiscard]] double seconds_until(double amount) const {
    return level >= amount ? 0.0 : (amount - level) / per_second;
  }
  // Where clients stand (OpenAI's x-ratelimit-* headers): the limit, what is left, and when
  // the bucket is full again.
  void describe(std::optional<std::uint64_t>& limit, std::optional<std::uint64_t>& remaining,
                std::optional<milliseconds>& reset) const {
    limit = per_minute;
    remaining = static_cast<std::uint64_t>(std::floor(std::max(0.0, level)));
    reset = milliseconds(std::llround(std::ceil((capacity - level) / per_second * 1000)));
  }
};

struct Admission {
  bool admitted = true;
  std::string_view limited_by; ///< "requests" or "tokens" when refused
  milliseconds retry_after{0};
  RateLimitInfo limits; ///< the buckets after the call, for the x-ratelimit-* headers
};

// The request and token buckets, changed together under one lock: a call is admitted only if
// both let it pass, and then pays both.
class Limiter {
public:
  Limiter(const SimOptions& options, Clock::time_point now) {
    if (options.requests_per_minute > 0)
      requests_.emplace(options.requests_per_minute, options.burst_s, now);
    if (options.tokens_per_minute > 0)
      tokens_.emplace(options.tokens_per_minute, options.burst_s, now);
  }

  Admission admit(std::uint64_t token_cost, Clock::time_point now) {
    Admission out;
    std::lock_guard lock(mutex_);
    auto cost = static_cast<double>(token_cost);
    double requests_wait = 0;
    double tokens_wait = 0;
    if (requests_) {
      requests_->refill(now);
      requests_wait = requests_->seconds_until(1.0);
    }
    if (tokens_) {
      tokens_->refill(now);
      // Asking for more than a full bucket would never pass; a full bucket admits the call.
      tokens_wait = tokens_->seconds_until(std::min(cost, tokens_->capacity));
    }
    if (requests_wait == 0 && tokens_wait == 0) {
      if (requests_)
        requests_->level -= 1.0;
      if (tokens_)
        tokens_->level -= cost;
    } else {
      out.admitted = false;
      out.limited_by = tokens_wait > requests_wait ? "tokens" : "requests";
      auto wait_ms = std::ceil(std::max(requests_wait, tokens_wait) * 1000);
      out.retry_after = milliseconds(std::max<long long>(1, std::llround(wait_ms)));
    }
    // Only the numbers are taken under the lock; the caller formats the headers.
    auto& info = out.limits;
    if (requests_)
      requests_->describe(info.limit_requests, info.remaining_requests, info.reset_requests);
    if (tokens_)
      tokens_->describe(info.limit_tokens, info.remaining_tokens, info.reset_tokens);
    return out;
  }

  /// Corrects the token bucket by `delta` tokens: negative, a refund (up to a full bucket);
  /// positive, a debt. Refilled first, so that a refund is capped by the level of `now`.
  void settle(double delta, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (!tokens_)
      return;
    tokens_->refill(now);
    tokens_->level = std::min(tokens_->capacity, tokens_->level - delta);
  }

private:
  std::mutex mutex_;
  std::optional<Bucket> requests_;
  std::optional<Bucket> tokens_;
};

} // namespace actorflow::tools::sim
