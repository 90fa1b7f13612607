// The supervisor's decisions, without actors: what follows a failed attempt under a policy and
// a circuit (the same rules for single nodes and batch items, which share the machine).
#include "core/supervision.hpp"

#include <doctest/doctest.h>

using namespace actorflow;
using actorflow::detail::Supervision;
using namespace std::chrono_literals;
using Next = Supervision::AfterFailure::Next;

namespace {

const Error server{Errc::server_error, "500"};
const Supervision::TimePoint t0 = Supervision::TimePoint{} + 1000h;

RetryPolicy three_attempts() {
  RetryPolicy p;
  p.max_attempts = 3;
  p.initial_backoff = 100ms;
  p.jitter = Jitter::none;
  return p;
}

} // namespace

TEST_CASE("without a policy nothing is retried, the circuit never opens, inputs need not stay") {
  Supervision s{std::nullopt};
  CHECK(s.policy() == nullptr);
  CHECK_FALSE(s.may_retry());
  CHECK(s.attempt_timeout() == 0ms);
  CHECK_FALSE(s.retryable(server, 1));
  for (int i = 0; i < 100; ++i) {
    REQUIRE(s.admit(t0));
    auto after = s.failed(server, 1, true, 0ms, t0, 0.5);
    CHECK(after.next == Next::give_up);
    CHECK_FALSE(after.opened_circuit);
  }
  CHECK(s.times_opened() == 0);
}

TEST_CASE("a retryable failure is retried after the policy's delay, a final one is given up") {
  Supervision s{three_attempts()};
  CHECK(s.may_retry());
  CHECK(s.retryable(server, 1));
  CHECK_FALSE(s.retryable(server, 3)); // the last attempt
  auto first = s.failed(server, 1, true, 0ms, t0, 0.5);
  CHECK(first.next == Next::retry);
  CHECK(first.delay == 100ms);
  auto second = s.failed(server, 2, true, first.delay, t0, 0.5);
  CHECK(second.next == Next::retry);
  CHECK(second.delay == 200ms);
  // Not retryable as decided where it was seen (a fallback that failed, the last attempt).
  CHECK(s.failed(server, 3, false, second.delay, t0, 0.5).next == Next::give_up);
}

TEST_CASE("a server's Retry-After wins over the computed delay") {
  Supervision s{three_attempts()};
  Error limited{Errc::rate_limited, "429"};
  limited.retry_after = 7s;
  auto after = s.failed(limited, 1, true, 0ms, t0, 0.5);
  CHECK(after.next == Next::retry);
  CHECK(after.delay == 7s);
}

TEST_CASE("the failure that opens the circuit says so, from then on retries fail fast") {
  auto policy = three_attempts();
  policy.max_attempts = 10;
  policy.circuit = CircuitPolicy{.max_failures = 2, .window = 10s, .cool_down = 30s};
  Supervision s{policy};
  auto first = s.failed(server, 1, true, 0ms, t0, 0.5);
  CHECK(first.next == Next::retry);
  CHECK_FALSE(first.opened_circuit);
  auto second = s.failed(server, 2, true, first.delay, t0 + 1s, 0.5);
  CHECK(second.opened_circuit);
  CHECK(second.next == Next::circuit_open); // retryable, but the circuit is open
  CHECK(s.times_opened() == 1);
  // A final failure stays a final failure, open circuit or not.
  CHECK(s.failed(server, 3, false, 0ms, t0 + 2s, 0.5).next == Next::give_up);
}

TEST_CASE(
    "an open circuit admits nothing until its cool-down, then one probe whose success closes it") {
  auto policy = three_attempts();
  policy.circuit = CircuitPolicy{.max_failures = 1, .window = 10s, .cool_down = 30s};
  Supervision s{policy};
  REQUIRE(s.admit(t0));
  REQUIRE(s.failed(server, 1, true, 0ms, t0, 0.5).opened_circuit);
  CHECK_FALSE(s.admit(t0 + 29s));
  CHECK(s.admit(t0 + 30s));       // the probe
  CHECK_FALSE(s.admit(t0 + 30s)); // one at a time
  s.succeeded();
  CHECK(s.admit(t0 + 31s));
  CHECK(s.admit(t0 + 31s));
}
