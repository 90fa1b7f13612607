#pragma once
// Schedules the grants of one (provider, model) key's model calls under its Limits. Plain logic
// on a time the caller passes in (no threads, no clock of its own), so every schedule it makes
// can be reproduced and checked; the runtime drives one per key from a resource-controller
// actor (actors/limit_controller.hpp).

#include <actorflow/limits.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/prices.hpp>
#include <actorflow/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace actorflow::detail {

/// Schedules grants for calls under `Limits`, in arrival order.
///
/// Guarantees, for any sequence of requests:
/// - Pacing: grants keep to a grid spaced by 60 s / requests_per_minute, and by the token cost
///   of the previous grant at tokens_per_minute, so a server that refills its own buckets
///   continuously never sees a burst (a grant polled late keeps the grid, so lateness does
///   not add up); a full 60 s window never holds more than the limits (checked against a log
///   of the last 60 s, with actual usage once known).
/// - Order: requests are served in arrival order, and a big request is never overtaken by
///   smaller ones (it waits at the head until it fits). A run given a weight gets a lane of its
///   own instead: lanes are served by weighted fair queuing, so tenants sharing one key get
///   shares in proportion to their weights (cost: tokens when tokens_per_minute is set, else
///   one per call), whatever the order in which they queued. Requests without a weight share
///   one lane of weight 1. Within a lane, order is arrival order; across lanes, the request
///   chosen next is never overtaken either.
/// - A request that could never fit (more tokens than tokens_per_minute, or than the run's
///   budget) fails at once instead of waiting forever.
/// - Money: with `money_per_run` and a price per token, a request sets aside its worst case
///   (tokens x `worst_per_token`) against its run's budget, settled with the call's actual
///   cost on release, as tokens are.
class LimitScheduler {
public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using LeaseId = std::uint64_t;

  /// `worst_per_token`: the most a token can cost on this key (US dollars; 0: unpriced),
  /// what money budgets set aside per reserved token.
  explicit LimitScheduler(Limits limits, double worst_per_token = 0);

  /// Queues a request for `tokens` on behalf of run `run`. It fails at once if it can never be
  /// granted (bad_request: over tokens_per_minute; budget_exhausted: over tokens_per_run);
  /// otherwise it waits for `poll`. Ids are the caller's, unique. `weight` > 0 gives the run a
  /// fair-share lane of its own (see the class comment); 0 queues it in arrival order.
  [[nodiscard]] Result<void> request(LeaseId id, std::uint64_t run, std::uint64_t tokens,
                                     double weight = 0);
  /// Grants what can be granted at `now`, oldest first; each one becomes a lease. A request
  /// whose run's budget is spent is refused with `budget_exhausted`.
  struct Grants {
    std::vector<LeaseId> granted;
    std::vector<std::pair<LeaseId, Error>> refused;
    /// When to poll again if requests still wait (none: nothing waits, or only on releases).
    std::optional<TimePoint> next;
  };
  [[nodiscard]] Grants poll(TimePoint now);

  /// Ends a lease: the call finished (with `actual_tokens` used, which corrects the estimate
  /// in both directions) or its holder went away (`actual_tokens` = the estimate).
  /// Returns the tokens the lease finally counts (`actual_tokens`, else its reservation); 0
  /// for an id that holds no lease (released already).
  std::uint64_t release(LeaseId id, std::optional<std::uint64_t> actual_tokens,
                        std::optional<double> actual_cost = std::nullopt);
  /// Withdraws a request that still waits (its holder went away).
  void cancel(LeaseId id);

  /// The server said 429: grant nothing before `until`.
  void pause_until(TimePoint until);
  /// The server's x-ratelimit-* headers: a server stricter than the configured limits (a lower
  /// limit, or nothing remaining until a reset) tightens them.
  void observe(const RateLimitInfo& info, TimePoint now);

  [[nodiscard]] std::size_t waiting() const noexcept { return waiting_; }
  [[nodiscard]] std::size_t in_flight() const noexcept { return leases_.size(); }
  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }
  /// Tokens run `run` has used (actual where known, else reserved).
  [[nodiscard]] std::uint64_t run_tokens(std::uint64_t run) const;
  /// Money run `run` has spent or set aside (actual cost where known, else the worst case).
  [[nodiscard]] double run_cost(std::uint64_t run) const;
  /// Grants, and their tokens (actual where known), in the 60 s before `now`; forgets older
  /// ones.
  struct WindowUsage {
    std::uint64_t requests = 0;
    std::uint64_t tokens = 0;
    friend bool operator==(const WindowUsage&, const WindowUsage&) = default;
  };
  [[nodiscard]] WindowUsage window_usage(TimePoint now);
  /// Run `run` has ended: its budget record goes (leases still out are released as usual).
  void forget_run(std::uint64_t run);
  [[nodiscard]] TimePoint paused_until() const noexcept { return paused_until_; }

private:
  struct Waiter {
    LeaseId id;
    std::uint64_t run;
    std::uint64_t tokens;
    double tag; ///< virtual finish time: lanes are served lowest tag first
  };
  /// The requests of one weighted run, or (key {false, 0}) of every unweighted one.
  struct Lane {
    std::deque<Waiter> queue;
    double weight = 1;
    double last_tag = 0;
  };
  using LaneKey = std::pair<bool, std::uint64_t>; ///< {weighted, run}
  struct Lease {
    std::uint64_t run;
    std::uint64_t tokens;
    TimePoint granted;
    double cost; ///< set aside: the worst case of `tokens`
  };
  /// Earliest time the head may be granted, or none if it waits on a release.
  std::optional<TimePoint> ready_at(const Waiter& w, TimePoint now) const;
  void forget_before(TimePoint now);
  /// The run is over its budget with `w`: refuse it, or (calls of the run still in flight may
  /// use less than reserved) wait for their releases.
  [[nodiscard]] bool over_budget(const Waiter& w) const;
  [[nodiscard]] bool run_in_flight(std::uint64_t run) const;
  Error budget_error(const Waiter& w) const;
  [[nodiscard]] double worst_cost(std::uint64_t tokens) const noexcept {
    return static_cast<double>(tokens) * worst_per_token_;
  }

  Limits limits_;
  double worst_per_token_;
  std::map<LaneKey, Lane> lanes_;
  std::size_t waiting_ = 0;
  double virtual_time_ = 0; ///< the tag of the last grant
  std::map<LeaseId, Lease> leases_;
  std::uint64_t in_flight_tokens_ = 0; ///< reserved by the leases
  /// Grants of the last 60 s, oldest first, with their tokens (corrected on release).
  struct Granted {
    TimePoint at;
    LeaseId id;
    std::uint64_t tokens;
  };
  std::deque<Granted> window_;
  std::uint64_t window_tokens_ = 0;
  TimePoint next_request_slot_{};
  TimePoint next_token_slot_{};
  TimePoint paused_until_{};
  std::map<std::uint64_t, std::uint64_t> run_spent_;
  std::map<std::uint64_t, double> run_cost_;
};

} // namespace actorflow::detail
