#pragma once
/// Retry and circuit-breaking policies: plain values, and the delay arithmetic behind them.
/// One supervisor machine applies them to single nodes and batch items alike; `retry_delay` is
/// public so that users can check their own policies' schedules.

#include <actorflow/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace actorflow {

using Millis = std::chrono::milliseconds;

/// How the delay between attempts is randomised, so that many clients that failed together
/// do not retry together. With `base = min(max_backoff, initial_backoff * multiplier^(n-1))`
/// after the n-th failed attempt:
/// - none: base;
/// - full: uniform in [0, base];
/// - equal: base/2 + uniform in [0, base/2];
/// - decorrelated: uniform in [initial_backoff, previous delay * 3], capped at max_backoff.
enum class Jitter : std::uint8_t { none, full, equal, decorrelated };

/// Too many failures in a short time under one supervisor open a circuit: the remaining work
/// fails fast with `circuit_open` instead of piling onto a failing dependency. After
/// `cool_down` one probe is let through (half-open); its success closes the circuit, its
/// failure opens it again. (Erlang/OTP's restart intensity, MaxR within MaxT.)
struct CircuitPolicy {
  /// Failures within `window` that open the circuit; 0 turns circuit breaking off.
  std::uint32_t max_failures = 0;
  Millis window{60'000};
  Millis cool_down{30'000};
};

/// How a node's exec is retried (per node, or for all nodes of a flow: see FlowBuilder).
/// The default retries nothing, like PocketFlow's max_retries=1.
struct RetryPolicy {
  /// Attempts in all, the first one included: 1 means no retry.
  std::uint32_t max_attempts = 1;
  Millis initial_backoff{100};
  double multiplier = 2.0;
  Millis max_backoff{10'000};
  Jitter jitter = Jitter::full;
  /// Time limit of each attempt; an attempt over it is abandoned (its late result ignored) and
  /// counts as a failure with `Errc::timeout`. Zero: no limit. The whole attempt counts,
  /// including time its model calls wait for a grant under `Limits`: with a window of W items
  /// and R requests per minute, items queue about W * 60 / R seconds, so keep the limit above
  /// that (or the window smaller). A hung HTTP call alone is caught by the provider's own
  /// timeout (`OpenAiConfig::timeout`), which starts when the request goes out.
  Millis attempt_timeout{0};
  /// Which failures are retried. Empty: `is_retryable(error.code)`.
  std::function<bool(const Error&)> retry_on{};
  /// Circuit breaking across the attempts of all items under one supervisor.
  CircuitPolicy circuit{};

  /// Whether `error`, from attempt number `attempt` (1-based), is retried.
  [[nodiscard]] bool should_retry(const Error& error, std::uint32_t attempt) const;
};

/// The delay before the next attempt, after attempt `failed_attempt` (1-based) failed with
/// `error`. `previous` is the delay used before that attempt (zero before the first retry;
/// only decorrelated jitter uses it). `uniform01` is a random sample in [0, 1): the caller
/// owns the randomness, so schedules are reproducible. A `retry_after` in the error wins.
[[nodiscard]] Millis retry_delay(const RetryPolicy& policy, const Error& error,
                                 std::uint32_t failed_attempt, Millis previous, double uniform01);

} // namespace actorflow
