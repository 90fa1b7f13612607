// The failure-policy arithmetic, without actors.
#include "core/batch_tally.hpp"

#include <doctest/doctest.h>

using actorflow::FailurePolicy;
using actorflow::detail::BatchTally;
using Verdict = BatchTally::Verdict;

TEST_CASE("collect never stops early and succeeds at the end whatever failed") {
  BatchTally t{FailurePolicy::collect()};
  CHECK(t.record(false) == Verdict::running);
  CHECK(t.record(true) == Verdict::running);
  CHECK(t.at_end() == Verdict::succeeded);
  CHECK(t.failed() == 1);
  CHECK(t.succeeded() == 1);
}

TEST_CASE("fail_fast fails on the first failure") {
  BatchTally t{FailurePolicy::fail_fast()};
  CHECK(t.record(true) == Verdict::running);
  CHECK(t.record(false) == Verdict::failed);
}

TEST_CASE("quorum succeeds as soon as it is met") {
  BatchTally t{FailurePolicy::quorum(2)};
  CHECK(t.record(false) == Verdict::running);
  CHECK(t.record(true) == Verdict::running);
  CHECK(t.record(true) == Verdict::succeeded);
}

TEST_CASE("quorum fails as soon as the known total puts it out of reach") {
  BatchTally t{FailurePolicy::quorum(3)};
  t.set_total(4);
  CHECK(t.record(false) == Verdict::running); // 3 left, 3 needed
  CHECK(t.record(false) == Verdict::failed);  // 2 left, 3 needed
  CHECK(t.failure_reason() == "quorum not reached: 0 succeeded, 3 needed (2 failed)");
}

TEST_CASE("quorum with an unknown total is decided at the end") {
  BatchTally t{FailurePolicy::quorum(3)};
  CHECK(t.record(false) == Verdict::running);
  CHECK(t.record(false) == Verdict::running);
  CHECK(t.record(true) == Verdict::running);
  CHECK(t.at_end() == Verdict::failed);
}

TEST_CASE("max_error_rate fails early against a known total, at the end otherwise") {
  SUBCASE("known total") {
    BatchTally t{FailurePolicy::max_error_rate(0.2)};
    t.set_total(10);
    CHECK(t.record(false) == Verdict::running); // 1 of 10
    CHECK(t.record(false) == Verdict::running); // 2 of 10: not over 0.2
    CHECK(t.record(false) == Verdict::failed);  // 3 of 10
    CHECK(t.failure_reason() == "error rate over 0.2: 3 of 10 items failed");
  }
  SUBCASE("unknown total") {
    BatchTally t{FailurePolicy::max_error_rate(0.5)};
    CHECK(t.record(false) == Verdict::running);
    CHECK(t.record(true) == Verdict::running);
    CHECK(t.at_end() == Verdict::succeeded); // 1 of 2 is not over 0.5
    CHECK(t.record(false) == Verdict::running);
    CHECK(t.at_end() == Verdict::failed); // 2 of 3
  }
}
