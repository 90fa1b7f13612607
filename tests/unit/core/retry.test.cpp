// The arithmetic of retries and circuits, on its own: delays per jitter mode, caps,
// Retry-After, classification, and the circuit's state machine.
#include <actorflow/retry.hpp>

#include "core/circuit_breaker.hpp"

#include <doctest/doctest.h>

using namespace actorflow;
using actorflow::detail::CircuitBreaker;
using namespace std::chrono_literals;

namespace {

RetryPolicy backoff(Jitter jitter) {
  RetryPolicy p;
  p.max_attempts = 10;
  p.initial_backoff = 100ms;
  p.multiplier = 2.0;
  p.max_backoff = 1000ms;
  p.jitter = jitter;
  return p;
}

const Error server{Errc::server_error, "500"};

} // namespace

TEST_CASE("without jitter, delays grow by the multiplier and stop at max_backoff") {
  auto p = backoff(Jitter::none);
  CHECK(retry_delay(p, server, 1, 0ms, 0.5) == 100ms);
  CHECK(retry_delay(p, server, 2, 0ms, 0.5) == 200ms);
  CHECK(retry_delay(p, server, 3, 0ms, 0.5) == 400ms);
  CHECK(retry_delay(p, server, 4, 0ms, 0.5) == 800ms);
  CHECK(retry_delay(p, server, 5, 0ms, 0.5) == 1000ms);
  CHECK(retry_delay(p, server, 60, 0ms, 0.5) == 1000ms); // no overflow far out
}

TEST_CASE("full jitter stays within [0, base] and spans it") {
  auto p = backoff(Jitter::full);
  for (std::uint32_t attempt = 1; attempt <= 6; ++attempt) {
    auto base = std::min<Millis>(1000ms, Millis(100 << (attempt - 1)));
    CHECK(retry_delay(p, server, attempt, 0ms, 0.0) == 0ms);
    CHECK(retry_delay(p, server, attempt, 0ms, 0.999999) == base);
    auto mid = retry_delay(p, server, attempt, 0ms, 0.5);
    CHECK(mid >= base / 2 - 1ms);
    CHECK(mid <= base / 2 + 1ms);
  }
}

TEST_CASE("equal jitter keeps at least half the base") {
  auto p = backoff(Jitter::equal);
  CHECK(retry_delay(p, server, 3, 0ms, 0.0) == 200ms);
  CHECK(retry_delay(p, server, 3, 0ms, 0.999999) == 400ms);
  CHECK(retry_delay(p, server, 9, 0ms, 0.0) == 500ms); // half of the cap
}

TEST_CASE("decorrelated jitter ranges from the initial backoff to three times the last delay") {
  auto p = backoff(Jitter::decorrelated);
  CHECK(retry_delay(p, server, 1, 0ms, 0.3) == 100ms); // no previous delay yet: the floor
  CHECK(retry_delay(p, server, 2, 200ms, 0.0) == 100ms);
  CHECK(retry_delay(p, server, 2, 200ms, 0.999999) == 600ms);
  CHECK(retry_delay(p, server, 5, 900ms, 0.999999) == 1000ms); // capped
}

TEST_CASE("a server's Retry-After wins over the computed delay, even above the cap") {
  auto p = backoff(Jitter::full);
  Error limited{Errc::rate_limited, "429", 3000ms};
  CHECK(retry_delay(p, limited, 1, 0ms, 0.1) == 3000ms);
  CHECK(retry_delay(p, limited, 7, 900ms, 0.9) == 3000ms);
}

TEST_CASE("should_retry: attempts are limited, classification by code, or by a predicate") {
  RetryPolicy p;
  CHECK_FALSE(p.should_retry(server, 1)); // the default retries nothing
  p.max_attempts = 3;
  CHECK(p.should_retry(server, 1));
  CHECK(p.should_retry(server, 2));
  CHECK_FALSE(p.should_retry(server, 3));
  CHECK(p.should_retry(Error{Errc::rate_limited, "429"}, 1));
  CHECK(p.should_retry(Error{Errc::timeout, "slow"}, 1));
  CHECK(p.should_retry(Error{Errc::connection_failed, "refused"}, 1));
  CHECK(p.should_retry(Error{Errc::peer_lost, "died"}, 1));
  CHECK(p.should_retry(Error{Errc::node_threw, "oops"}, 1));
  CHECK_FALSE(p.should_retry(Error{Errc::bad_request, "400"}, 1));
  CHECK_FALSE(p.should_retry(Error{Errc::bad_input, "nope"}, 1));
  CHECK_FALSE(p.should_retry(Error{Errc::cancelled, "stop"}, 1));
  p.retry_on = [](const Error& e) { return e.code == Errc::bad_request; };
  CHECK(p.should_retry(Error{Errc::bad_request, "400"}, 1));
  CHECK_FALSE(p.should_retry(server, 1));
}

TEST_CASE("a circuit opens after K failures within the window, not for failures spread out") {
  CircuitBreaker breaker{
      CircuitPolicy{.max_failures = 3, .window = 10'000ms, .cool_down = 5'000ms}};
  CircuitBreaker::TimePoint t{};
  breaker.record_failure(t);
  breaker.record_failure(t + 6s);
  breaker.record_failure(t + 17s); // the first two are more than 10 s older: still closed
  CHECK(breaker.state() == CircuitBreaker::State::closed);
  CHECK(breaker.allow(t + 17s));
  breaker.record_failure(t + 18s);
  breaker.record_failure(t + 19s); // three within 10 s
  CHECK(breaker.state() == CircuitBreaker::State::open);
  CHECK(breaker.times_opened() == 1);
  CHECK_FALSE(breaker.allow(t + 20s));
  CHECK_FALSE(breaker.allow(t + 23s));
}

TEST_CASE("after the cool-down one probe goes through, its success closes the circuit") {
  CircuitBreaker breaker{CircuitPolicy{.max_failures = 2, .window = 1'000ms, .cool_down = 5'000ms}};
  CircuitBreaker::TimePoint t{};
  breaker.record_failure(t);
  breaker.record_failure(t);
  REQUIRE(breaker.state() == CircuitBreaker::State::open);
  CHECK_FALSE(breaker.allow(t + 4s));
  CHECK(breaker.allow(t + 5s)); // the probe
  CHECK(breaker.state() == CircuitBreaker::State::half_open);
  CHECK_FALSE(breaker.allow(t + 5s)); // one probe at a time
  breaker.record_success();
  CHECK(breaker.state() == CircuitBreaker::State::closed);
  CHECK(breaker.allow(t + 6s));
  CHECK(breaker.allow(t + 6s));
}

TEST_CASE("a failed probe opens the circuit again for another cool-down") {
  CircuitBreaker breaker{CircuitPolicy{.max_failures = 1, .window = 1'000ms, .cool_down = 2'000ms}};
  CircuitBreaker::TimePoint t{};
  breaker.record_failure(t);
  REQUIRE(breaker.allow(t + 2s));
  breaker.record_failure(t + 3s);
  CHECK(breaker.state() == CircuitBreaker::State::open);
  CHECK(breaker.times_opened() == 2);
  CHECK_FALSE(breaker.allow(t + 4s));
  CHECK(breaker.allow(t + 5s));
}

TEST_CASE("circuit breaking is off by default") {
  CircuitBreaker breaker;
  CircuitBreaker::TimePoint t{};
  for (int i = 0; i < 100; ++i)
    breaker.record_failure(t);
  CHECK(breaker.state() == CircuitBreaker::State::closed);
  CHECK(breaker.allow(t));
}
