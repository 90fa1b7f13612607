#include "core/limit_scheduler.hpp"

#include <algorithm>

namespace actorflow::detail {

namespace {

using std::chrono::nanoseconds;
constexpr auto minute = std::chrono::minutes(1);

/// The share of a minute that `amount` of a per-minute `limit` takes up.
nanoseconds share_of_minute(std::uint64_t amount, std::uint64_t limit) {
  auto ns = static_cast<long double>(nanoseconds(minute).count()) *
            static_cast<long double>(amount) / static_cast<long double>(limit);
  return nanoseconds(static_cast<nanoseconds::rep>(ns));
}

/// The next pacing slot after a grant at `now` for the slot `slot`. A grant made a little late
/// (by less than its interval: a timer fires after its time) keeps to the grid, so that timer
/// lateness does not add up over thousands of grants; after a longer idle time the grid
/// restarts at `now`.
std::chrono::steady_clock::time_point next_slot(std::chrono::steady_clock::time_point slot,
                                                std::chrono::steady_clock::time_point now,
                                                nanoseconds interval) {
  return (now - slot < interval ? slot : now) + interval;
}

} // namespace

LimitScheduler::LimitScheduler(Limits limits, double worst_per_token)
    : limits_(limits), worst_per_token_(worst_per_token) {}

Result<void> LimitScheduler::request(LeaseId id, std::uint64_t run, std::uint64_t tokens,
                                     double weight) {
  if (limits_.tokens_per_minute != 0 && tokens > limits_.tokens_per_minute)
    return Error{Errc::bad_request,
                 "a call of " + std::to_string(tokens) + " tokens can never fit the limit of " +
                     std::to_string(limits_.tokens_per_minute) + " tokens per minute"};
  if (limits_.tokens_per_run != 0 && tokens > limits_.tokens_per_run)
    return Error{Errc::budget_exhausted, "a call of " + std::to_string(tokens) +
                                             " tokens exceeds the run's budget of " +
                                             std::to_string(limits_.tokens_per_run) + " tokens"};
  if (limits_.enqueued_tokens != 0 && tokens > limits_.enqueued_tokens)
    return Error{Errc::bad_request,
                 "a call of " + std::to_string(tokens) + " tokens can never fit the limit of " +
                     std::to_string(limits_.enqueued_tokens) + " enqueued tokens"};
  if (limits_.money_per_run > 0 && worst_cost(tokens) > limits_.money_per_run)
    return Error{Errc::budget_exhausted,
                 "a call of " + std::to_string(tokens) + " tokens may cost up to " +
                     format_money(worst_cost(tokens)) + ", over the run's money budget of " +
                     format_money(limits_.money_per_run)};
  bool weighted = weight > 0;
  auto& lane = lanes_[LaneKey{weighted, weighted ? run : 0}];
  lane.weight = weighted ? weight : 1.0;
  // A lane that was idle starts at the current virtual time: waiting earns no credit.
  double cost = limits_.tokens_per_minute != 0
                    ? static_cast<double>(std::max<std::uint64_t>(tokens, 1))
                    : 1.0;
  lane.last_tag = std::max(lane.last_tag, virtual_time_) + cost / lane.weight;
  lane.queue.push_back({id, run, tokens, lane.last_tag});
  ++waiting_;
  return {};
}

void LimitScheduler::forget_before(TimePoint now) {
  while (!window_.empty() && window_.front().at + minute <= now) {
    window_tokens_ -= window_.front().tokens;
    window_.pop_front();
  }
}

std::optional<LimitScheduler::TimePoint> LimitScheduler::ready_at(const Waiter& w,
                                                                  TimePoint now) const {
  if (limits_.max_concurrent != 0 && leases_.size() >= limits_.max_concurrent)
    return std::nullopt; // a release will poll again
  if (limits_.enqueued_tokens != 0 && in_flight_tokens_ + w.tokens > limits_.enqueued_tokens)
    return std::nullopt;
  auto at = std::max(now, paused_until_);
  if (auto r = limits_.requests_per_minute; r != 0) {
    at = std::max(at, next_request_slot_);
    // The window holds at most r grants: the r-th newest must leave it first.
    if (window_.size() >= r)
      at = std::max(at, window_[window_.size() - r].at + minute);
  }
  if (auto t = limits_.tokens_per_minute; t != 0) {
    at = std::max(at, next_token_slot_);
    // Wait until enough of the window's oldest grants have left it for this one to fit.
    auto in_window = window_tokens_;
    for (const auto& g : window_) {
      if (in_window + w.tokens <= t)
        break;
      in_window -= g.tokens;
      at = std::max(at, g.at + minute);
    }
  }
  return at;
}

bool LimitScheduler::run_in_flight(std::uint64_t run) const {
  return std::any_of(leases_.begin(), leases_.end(),
                     [&](const auto& l) { return l.second.run == run; });
}

bool LimitScheduler::over_budget(const Waiter& w) const {
  auto budget = limits_.tokens_per_run;
  if (budget != 0 && run_tokens(w.run) + w.tokens > budget)
    return true;
  return limits_.money_per_run > 0 &&
         run_cost(w.run) + worst_cost(w.tokens) > limits_.money_per_run;
}

Error LimitScheduler::budget_error(const Waiter& w) const {
  auto budget = limits_.tokens_per_run;
  if (budget == 0 || run_tokens(w.run) + w.tokens <= budget)
    return Error{Errc::budget_exhausted, "the run's money budget of " +
                                             format_money(limits_.money_per_run) + " is spent (" +
                                             format_money(run_cost(w.run)) +
                                             " spent or set aside; this call may cost up to " +
                                             format_money(worst_cost(w.tokens)) + ")"};
  return Error{Errc::budget_exhausted,
               "the run's budget of " + std::to_string(limits_.tokens_per_run) +
                   " tokens is spent (" + std::to_string(run_tokens(w.run)) +
                   " used; this call needs " + std::to_string(w.tokens) + ")"};
}

LimitScheduler::Grants LimitScheduler::poll(TimePoint now) {
  Grants out;
  forget_before(now);
  // Lanes whose head waits for its own run's calls in flight (a budget question, not a shared
  // limit): the other lanes may go on meanwhile.
  std::vector<const Lane*> held;
  while (waiting_ > held.size()) {
    Lane* next = nullptr;
    for (auto& [key, lane] : lanes_)
      if (!lane.queue.empty() && std::find(held.begin(), held.end(), &lane) == held.end() &&
          (next == nullptr || lane.queue.front().tag < next->queue.front().tag))
        next = &lane;
    if (next == nullptr)
      break;
    auto& head = next->queue.front();
    if (over_budget(head)) {
      if (run_in_flight(head.run)) {
        held.push_back(next);
        continue;
      }
      out.refused.emplace_back(head.id, budget_error(head));
      next->queue.pop_front();
      --waiting_;
      continue;
    }
    // The lowest tag goes next: when it must wait, everything waits (no overtaking).
    auto at = ready_at(head, now);
    if (!at)
      break;
    if (*at > now) {
      out.next = *at;
      break;
    }
    if (limits_.requests_per_minute != 0)
      next_request_slot_ =
          next_slot(next_request_slot_, now, share_of_minute(1, limits_.requests_per_minute));
    if (limits_.tokens_per_minute != 0)
      next_token_slot_ =
          next_slot(next_token_slot_, now, share_of_minute(head.tokens, limits_.tokens_per_minute));
    const double cost = worst_cost(head.tokens);
    leases_.emplace(head.id, Lease{head.run, head.tokens, now, cost});
    in_flight_tokens_ += head.tokens;
    if (cost > 0)
      run_cost_[head.run] += cost;
    window_.push_back({now, head.id, head.tokens});
    window_tokens_ += head.tokens;
    run_spent_[head.run] += head.tokens;
    virtual_time_ = head.tag;
    out.granted.push_back(head.id);
    next->queue.pop_front();
    --waiting_;
  }
  std::erase_if(lanes_, [](const auto& kv) { return kv.second.queue.empty(); });
  return out;
}

std::uint64_t LimitScheduler::release(LeaseId id, std::optional<std::uint64_t> actual_tokens,
                                      std::optional<double> actual_cost) {
  auto it = leases_.find(id);
  if (it == leases_.end())
    return 0;
  // Without the actual cost the worst case stands, as the estimate does for tokens.
  if (actual_cost && it->second.cost > 0)
    if (auto spent = run_cost_.find(it->second.run); spent != run_cost_.end())
      spent->second = std::max(0.0, spent->second - it->second.cost + *actual_cost);
  auto reserved = it->second.tokens;
  auto actual = actual_tokens.value_or(reserved);
  if (actual != reserved) {
    // Refund or debt: the run's spending follows the actual usage, and so do the window and
    // the token pacing unless the server counts reservations.
    if (auto spent = run_spent_.find(it->second.run); spent != run_spent_.end())
      spent->second = spent->second - reserved + actual; // (gone when the run has ended)
  }
  if (actual != reserved && limits_.settle_with_actual_usage) {
    auto g = std::find_if(window_.rbegin(), window_.rend(),
                          [&](const Granted& x) { return x.id == id; });
    if (g != window_.rend()) {
      window_tokens_ = window_tokens_ - g->tokens + actual;
      g->tokens = actual;
    }
    if (auto t = limits_.tokens_per_minute; t != 0) {
      if (actual > reserved)
        next_token_slot_ += share_of_minute(actual - reserved, t);
      else
        next_token_slot_ -= share_of_minute(reserved - actual, t);
    }
  }
  in_flight_tokens_ -= it->second.tokens;
  leases_.erase(it);
  return actual;
}

void LimitScheduler::cancel(LeaseId id) {
  for (auto lane = lanes_.begin(); lane != lanes_.end(); ++lane) {
    auto& q = lane->second.queue;
    auto it = std::find_if(q.begin(), q.end(), [&](const Waiter& w) { return w.id == id; });
    if (it == q.end())
      continue;
    q.erase(it);
    --waiting_;
    if (q.empty())
      lanes_.erase(lane);
    return;
  }
}

void LimitScheduler::pause_until(TimePoint until) {
  paused_until_ = std::max(paused_until_, until);
}

void LimitScheduler::observe(const RateLimitInfo& info, TimePoint now) {
  auto tighten = [](std::uint64_t& configured, const std::optional<std::uint64_t>& server) {
    if (server && *server > 0 && (configured == 0 || *server < configured))
      configured = *server;
  };
  tighten(limits_.requests_per_minute, info.limit_requests);
  tighten(limits_.tokens_per_minute, info.limit_tokens);
  if (info.remaining_requests == 0u && info.reset_requests)
    pause_until(now + *info.reset_requests);
  if (info.remaining_tokens == 0u && info.reset_tokens)
    pause_until(now + *info.reset_tokens);
}

LimitScheduler::WindowUsage LimitScheduler::window_usage(TimePoint now) {
  forget_before(now);
  return {window_.size(), window_tokens_};
}

void LimitScheduler::forget_run(std::uint64_t run) {
  run_spent_.erase(run);
  run_cost_.erase(run);
}

double LimitScheduler::run_cost(std::uint64_t run) const {
  auto it = run_cost_.find(run);
  return it == run_cost_.end() ? 0 : it->second;
}

std::uint64_t LimitScheduler::run_tokens(std::uint64_t run) const {
  auto it = run_spent_.find(run);
  return it == run_spent_.end() ? 0 : it->second;
}

} // namespace actorflow::detail
