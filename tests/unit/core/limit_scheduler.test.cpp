// LimitScheduler on an injected time: pacing, 60 s windows, concurrency, refunds and debts,
// arrival order, oversize calls, 429 pauses, run budgets.
#include "core/limit_scheduler.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using namespace actorflow;
using actorflow::detail::LimitScheduler;
using namespace std::chrono_literals;
using TimePoint = LimitScheduler::TimePoint;

namespace {

const TimePoint t0 = TimePoint{} + 1000h; // any origin

struct Grant {
  TimePoint at;
  std::uint64_t tokens;
};

/// Queues `costs` at t0, then grants until all are served, each call ending at once with its
/// estimate; returns when each one was granted.
std::vector<Grant> drain(LimitScheduler& s, const std::vector<std::uint64_t>& costs) {
  for (std::size_t i = 0; i < costs.size(); ++i)
    REQUIRE(s.request(i, 1, costs[i]).ok());
  std::vector<Grant> grants;
  auto now = t0;
  for (int guard = 0; guard < 100000 && grants.size() < costs.size(); ++guard) {
    auto g = s.poll(now);
    for (auto id : g.granted) {
      grants.push_back({now, costs[id]});
      s.release(id, std::nullopt);
    }
    if (g.next) {
      REQUIRE(*g.next > now);
      now = *g.next;
    }
  }
  REQUIRE(grants.size() == costs.size());
  return grants;
}

/// The most requests and tokens any half-open 60 s window holds.
std::pair<std::size_t, std::uint64_t> busiest_minute(const std::vector<Grant>& grants) {
  std::size_t most_requests = 0;
  std::uint64_t most_tokens = 0;
  for (const auto& start : grants) {
    std::size_t requests = 0;
    std::uint64_t tokens = 0;
    for (const auto& g : grants)
      if (g.at >= start.at && g.at < start.at + 60s) {
        ++requests;
        tokens += g.tokens;
      }
    most_requests = std::max(most_requests, requests);
    most_tokens = std::max(most_tokens, tokens);
  }
  return {most_requests, most_tokens};
}

} // namespace

TEST_CASE("a burst is paced so that no 60 s window exceeds the request limit") {
  LimitScheduler s(Limits{.requests_per_minute = 60});
  auto grants = drain(s, std::vector<std::uint64_t>(200, 10));
  auto [requests, tokens] = busiest_minute(grants);
  CHECK(requests <= 60);
  CHECK(requests >= 59); // and the limit is used, not wasted
  for (std::size_t i = 1; i < grants.size(); ++i)
    CHECK(grants[i].at - grants[i - 1].at >= 1s);
  CHECK(grants.back().at - grants.front().at == 199s); // exactly N / rate
}

TEST_CASE("token-bound calls are paced by their cost and no window exceeds the token limit") {
  LimitScheduler s(Limits{.requests_per_minute = 1000, .tokens_per_minute = 6000});
  std::vector<std::uint64_t> costs;
  for (int i = 0; i < 300; ++i)
    costs.push_back(50 + static_cast<std::uint64_t>(i * 37 % 400)); // 50..449 tokens
  auto grants = drain(s, costs);
  auto [requests, tokens] = busiest_minute(grants);
  CHECK(requests <= 1000);
  CHECK(tokens <= 6000);
  CHECK(tokens >= 5000);
}

TEST_CASE("concurrency never exceeds max_concurrent, a release lets the next one in") {
  LimitScheduler s(Limits{.max_concurrent = 3});
  for (LimitScheduler::LeaseId id = 0; id < 10; ++id)
    REQUIRE(s.request(id, 1, 1).ok());
  auto g = s.poll(t0);
  CHECK(g.granted == std::vector<LimitScheduler::LeaseId>{0, 1, 2});
  CHECK_FALSE(g.next); // waits on a release, not on time
  CHECK(s.poll(t0 + 1h).granted.empty());
  s.release(1, 5);
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{3});
  CHECK(s.in_flight() == 3);
  CHECK(s.waiting() == 6);
}

TEST_CASE("actual usage refunds or adds to the reservation, and the schedule follows") {
  auto second_grant = [](std::uint64_t actual_of_first) {
    LimitScheduler s(Limits{.tokens_per_minute = 600}); // 10 tokens per second
    REQUIRE(s.request(1, 1, 200).ok());
    REQUIRE(s.request(2, 1, 200).ok());
    REQUIRE(s.poll(t0).granted.size() == 1);
    s.release(1, actual_of_first);
    auto g = s.poll(t0);
    REQUIRE(g.granted.empty());
    REQUIRE(g.next);
    return *g.next - t0;
  };
  CHECK(second_grant(200) == 20s); // as estimated: 200 tokens at 10/s
  CHECK(second_grant(100) == 10s); // refund of 100
  CHECK(second_grant(300) == 30s); // debt of 100
  CHECK(second_grant(500) == 60s); // 500 + 200 > 600: the first must leave the 60 s window
}

TEST_CASE("arrival order holds: a big call at the head is not overtaken by small ones") {
  LimitScheduler s(Limits{.tokens_per_minute = 1000});
  REQUIRE(s.request(1, 1, 900).ok());
  REQUIRE(s.request(2, 1, 900).ok());
  REQUIRE(s.request(3, 1, 10).ok()); // would fit now, but waits its turn
  auto g = s.poll(t0);
  CHECK(g.granted == std::vector<LimitScheduler::LeaseId>{1});
  REQUIRE(g.next);
  CHECK(*g.next == t0 + 60s); // the first must leave the window for the second to fit
  g = s.poll(*g.next);
  CHECK(g.granted == std::vector<LimitScheduler::LeaseId>{2});
  REQUIRE(g.next);
  // Paced by the 900 tokens just granted, on the grid that started with the first grant (54 s
  // later); the second was late to its slot by less than its interval, so the grid holds.
  CHECK(*g.next == t0 + 54s + 54s);
  CHECK(s.poll(*g.next).granted == std::vector<LimitScheduler::LeaseId>{3});
}

TEST_CASE("a call that can never fit fails at once, naming the limit") {
  LimitScheduler s(Limits{.tokens_per_minute = 1000, .tokens_per_run = 500});
  auto too_big = s.request(1, 1, 1001);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == Errc::bad_request);
  CHECK(too_big.error().message ==
        "a call of 1001 tokens can never fit the limit of 1000 tokens per minute");
  auto over_budget = s.request(2, 1, 600);
  REQUIRE_FALSE(over_budget.ok());
  CHECK(over_budget.error().code == Errc::budget_exhausted);
  CHECK(s.waiting() == 0);
}

TEST_CASE("a run's money budget: the worst case set aside, settled with the actual cost") {
  // $10 per million tokens at worst: a call of 1000 tokens sets aside $0.01.
  LimitScheduler s(Limits{.money_per_run = 0.025}, 10e-6);
  auto too_dear = s.request(9, 7, 3000);
  REQUIRE_FALSE(too_dear.ok());
  CHECK(too_dear.error().code == Errc::budget_exhausted);
  CHECK(too_dear.error().message ==
        "a call of 3000 tokens may cost up to $0.03000, over the run's money budget of $0.02500");
  for (LimitScheduler::LeaseId id : {1, 2, 3})
    REQUIRE(s.request(id, 7, 1000).ok());
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{1, 2}); // $0.02 set aside
  CHECK(s.run_cost(7) == doctest::Approx(0.02));
  s.release(1, 1000, 0.002); // it cost less than its worst case
  CHECK(s.run_cost(7) == doctest::Approx(0.012));
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{3});
  s.release(2, 1000, std::nullopt); // unknown: the worst case stands
  s.release(3, 1000, 0.009);
  CHECK(s.run_cost(7) == doctest::Approx(0.021));
  REQUIRE(s.request(4, 7, 1000).ok());
  auto g = s.poll(t0);
  REQUIRE(g.refused.size() == 1);
  CHECK(g.refused[0].second.code == Errc::budget_exhausted);
  CHECK(g.refused[0].second.message == "the run's money budget of $0.02500 is spent ($0.02100 "
                                       "spent or set aside; this call may cost up to $0.01000)");
  s.forget_run(7);
  CHECK(s.run_cost(7) == 0);
  // A key without a price spends nothing: the budget never stops it.
  LimitScheduler unpriced(Limits{.money_per_run = 0.001});
  REQUIRE(unpriced.request(1, 7, 1'000'000).ok());
  CHECK(unpriced.poll(t0).granted.size() == 1);
}

TEST_CASE("a 429 pauses the key for exactly Retry-After") {
  LimitScheduler s(Limits{});
  s.pause_until(t0 + 2500ms);
  REQUIRE(s.request(1, 1, 10).ok());
  auto g = s.poll(t0);
  CHECK(g.granted.empty());
  REQUIRE(g.next);
  CHECK(*g.next == t0 + 2500ms);
  CHECK(s.poll(t0 + 2499ms).granted.empty());
  CHECK(s.poll(t0 + 2500ms).granted.size() == 1);
}

TEST_CASE("a run's budget is shared by its calls, when spent, its calls fail, others go on") {
  LimitScheduler s(Limits{.tokens_per_run = 1000});
  REQUIRE(s.request(1, 7, 400).ok());
  REQUIRE(s.request(2, 7, 400).ok());
  REQUIRE(s.request(3, 7, 400).ok());
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{1, 2});
  s.release(1, 100); // used less than reserved: 500 of 1000 so far
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{3});
  CHECK(s.run_tokens(7) == 900);
  REQUIRE(s.request(4, 7, 400).ok());
  CHECK(s.poll(t0).granted.empty()); // calls in flight may still give some back
  s.release(2, std::nullopt);
  s.release(3, std::nullopt);
  auto g = s.poll(t0);
  REQUIRE(g.refused.size() == 1);
  CHECK(g.refused[0].first == 4);
  CHECK(g.refused[0].second.code == Errc::budget_exhausted);
  REQUIRE(s.request(5, 8, 400).ok()); // another run has its own budget
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{5});
}

TEST_CASE("a waiting call can be withdrawn, a stricter server tightens the limits") {
  LimitScheduler s(Limits{.requests_per_minute = 600});
  REQUIRE(s.request(1, 1, 1).ok());
  s.cancel(1);
  CHECK(s.waiting() == 0);
  RateLimitInfo info;
  info.limit_requests = 60;
  info.remaining_requests = 0;
  info.reset_requests = 1500ms;
  s.observe(info, t0);
  CHECK(s.limits().requests_per_minute == 60);
  REQUIRE(s.request(2, 1, 1).ok());
  auto g = s.poll(t0);
  REQUIRE(g.next);
  CHECK(*g.next == t0 + 1500ms);
}

namespace {

/// Serves every queued request with nothing else limiting, one grant per poll step of 1 s at
/// 60 requests per minute; returns the runs in grant order.
std::vector<std::uint64_t>
grant_order(LimitScheduler& s, std::size_t count,
            const std::map<LimitScheduler::LeaseId, std::uint64_t>& run_of) {
  std::vector<std::uint64_t> order;
  auto now = t0;
  for (int guard = 0; guard < 10000 && order.size() < count; ++guard) {
    auto g = s.poll(now);
    for (auto id : g.granted) {
      order.push_back(run_of.at(id));
      s.release(id, std::nullopt);
    }
    if (g.next)
      now = *g.next;
  }
  REQUIRE(order.size() == count);
  return order;
}

} // namespace

TEST_CASE("without weights, runs sharing a key are served in arrival order") {
  LimitScheduler s(Limits{.requests_per_minute = 60});
  std::map<LimitScheduler::LeaseId, std::uint64_t> run_of;
  for (LimitScheduler::LeaseId id = 0; id < 6; ++id) {
    run_of[id] = id < 4 ? 1 : 2;
    REQUIRE(s.request(id, run_of[id], 1).ok());
  }
  CHECK(grant_order(s, 6, run_of) == std::vector<std::uint64_t>{1, 1, 1, 1, 2, 2});
}

TEST_CASE("weighted runs get fair shares in proportion to their weights") {
  LimitScheduler s(Limits{.requests_per_minute = 60});
  std::map<LimitScheduler::LeaseId, std::uint64_t> run_of;
  // Run 1 queues its whole backlog first; run 2 (twice the weight) queues after it.
  for (LimitScheduler::LeaseId id = 0; id < 6; ++id) {
    run_of[id] = 1;
    REQUIRE(s.request(id, 1, 1, 1.0).ok());
  }
  for (LimitScheduler::LeaseId id = 6; id < 12; ++id) {
    run_of[id] = 2;
    REQUIRE(s.request(id, 2, 1, 2.0).ok());
  }
  auto order = grant_order(s, 12, run_of);
  // Over the first 9 grants run 2 gets two for every one of run 1 (not 6 of run 1 first).
  auto first9 = std::vector<std::uint64_t>(order.begin(), order.begin() + 9);
  CHECK(std::count(first9.begin(), first9.end(), 2u) == 6);
  CHECK(std::count(first9.begin(), first9.end(), 1u) == 3);
}

TEST_CASE("a lane waiting on its own run's budget does not hold up the other lanes") {
  LimitScheduler s(Limits{.tokens_per_run = 100});
  REQUIRE(s.request(1, 7, 80, 1.0).ok());
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{1});
  REQUIRE(s.request(2, 7, 80, 1.0).ok()); // waits: call 1 may still give tokens back
  REQUIRE(s.request(3, 8, 80, 1.0).ok());
  auto g = s.poll(t0);
  CHECK(g.granted == std::vector<LimitScheduler::LeaseId>{3});
  CHECK(g.refused.empty());
  CHECK(s.waiting() == 1);
  s.release(1, 10); // 10 used: 90 left, call 2 fits
  CHECK(s.poll(t0).granted == std::vector<LimitScheduler::LeaseId>{2});
}

TEST_CASE("a server that counts reservations: actual usage corrects budgets, not the pacing") {
  LimitScheduler s(Limits{.tokens_per_minute = 600, .settle_with_actual_usage = false});
  REQUIRE(s.request(1, 1, 300).ok());
  REQUIRE(s.request(2, 1, 300).ok());
  REQUIRE(s.poll(t0).granted.size() == 1);
  s.release(1, 30);
  CHECK(s.run_tokens(1) == 30);
  auto g = s.poll(t0);
  REQUIRE(g.next);
  CHECK(*g.next == t0 + 30s); // paced by the 300 reserved, not the 30 used
  CHECK(s.window_usage(t0) == LimitScheduler::WindowUsage{1, 300});
}

TEST_CASE("a grant polled late keeps the pacing grid, so lateness does not add up") {
  LimitScheduler s(Limits{.requests_per_minute = 6000}); // one per 10 ms
  for (LimitScheduler::LeaseId id = 1; id <= 3; ++id)
    REQUIRE(s.request(id, 1, 1).ok());
  REQUIRE(s.poll(t0).granted.size() == 1);
  auto g = s.poll(t0 + 13ms); // the timer for t0 + 10 ms fired 3 ms late
  REQUIRE(g.granted.size() == 1);
  REQUIRE(g.next);
  CHECK(*g.next == t0 + 20ms); // not t0 + 23 ms
  CHECK(s.poll(t0 + 20ms).granted.size() == 1);
  // After an idle spell longer than the interval, the grid restarts at the grant.
  REQUIRE(s.request(4, 1, 1).ok());
  REQUIRE(s.request(5, 1, 1).ok());
  g = s.poll(t0 + 1s);
  CHECK(g.granted == std::vector<LimitScheduler::LeaseId>{4});
  REQUIRE(g.next);
  CHECK(*g.next == t0 + 1s + 10ms);
}

TEST_CASE("a run that has ended leaves no budget record behind") {
  LimitScheduler s(Limits{.tokens_per_run = 1000});
  REQUIRE(s.request(1, 7, 400).ok());
  REQUIRE(s.poll(t0).granted.size() == 1);
  REQUIRE(s.request(2, 7, 400).ok());
  REQUIRE(s.poll(t0).granted.size() == 1);
  CHECK(s.run_tokens(7) == 800);
  s.forget_run(7);
  CHECK(s.run_tokens(7) == 0);
  s.release(1, 100); // a lease still out when the run ended comes back without recreating it
  CHECK(s.run_tokens(7) == 0);
  CHECK(s.release(2, std::nullopt) == 400);
  CHECK(s.in_flight() == 0);
}
