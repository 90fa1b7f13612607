#pragma once
/// Retry and circuit-breaking policies: plain values, and the pure arithmetic behind them.
/// The supervisors in the runtime apply them; these functions are public so that users can
/// check their own policies' schedules (and so that the arithmetic is tested on its own).

#include <actorflow/result.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
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
                                 std::uint32_t failed_attempt, Millis previous,
                                 double uniform01);

/// One step of supervision, reported to `RunOptions::on_attempt` (for logs and telemetry).
struct AttemptEvent {
  enum class Kind : std::uint8_t {
    failed,           ///< an attempt failed (its error; a dead child is `peer_lost`)
    timed_out,        ///< an attempt passed attempt_timeout and was abandoned (a `failed`
                      ///< event for the same attempt follows: count one of the two)
    retry_scheduled,  ///< the next attempt starts after `delay`
    gave_up,          ///< no more attempts: `error` is the outcome
    fallback_used,    ///< exec_fallback supplied the value after the last failure
    circuit_opened,   ///< too many failures: the supervisor fails fast from now on
    circuit_rejected, ///< work failed fast because the circuit was open
  };
  Kind kind = Kind::failed;
  std::string node;                ///< the node's path, "outer/inner"
  std::optional<std::size_t> item; ///< the item's index inside a batch
  std::uint32_t attempt = 0;       ///< 1-based number of the attempt concerned
  Error error;
  Millis delay{0}; ///< for retry_scheduled
};

/// "failed", "retry_scheduled", ...
[[nodiscard]] std::string_view to_string(AttemptEvent::Kind kind) noexcept;

/// The state machine of one circuit. Not thread-safe (it lives inside one supervisor actor).
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

} // namespace actorflow
