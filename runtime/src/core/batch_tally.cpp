#include "core/batch_tally.hpp"

namespace actorflow {

namespace detail {

bool BatchTally::error_rate_exceeded(std::size_t of) const {
  return of > 0 && static_cast<double>(failed_) > policy_.rate() * static_cast<double>(of);
}

BatchTally::Verdict BatchTally::record(bool ok) {
  (ok ? succeeded_ : failed_) += 1;
  switch (policy_.kind()) {
    case FailurePolicy::Kind::collect:
      return Verdict::running;
    case FailurePolicy::Kind::fail_fast:
      return ok ? Verdict::running : Verdict::failed;
    case FailurePolicy::Kind::quorum:
      if (succeeded_ >= policy_.min_success())
        return Verdict::succeeded;
      // With a known total, fail as soon as the quorum is out of reach.
      if (total_ && succeeded_ + (*total_ - succeeded_ - failed_) < policy_.min_success())
        return Verdict::failed;
      return Verdict::running;
    case FailurePolicy::Kind::max_error_rate:
      return total_ && error_rate_exceeded(*total_) ? Verdict::failed : Verdict::running;
  }
  return Verdict::running;
}

BatchTally::Verdict BatchTally::at_end() const {
  switch (policy_.kind()) {
    case FailurePolicy::Kind::quorum:
      return succeeded_ >= policy_.min_success() ? Verdict::succeeded : Verdict::failed;
    case FailurePolicy::Kind::max_error_rate:
      return error_rate_exceeded(succeeded_ + failed_) ? Verdict::failed : Verdict::succeeded;
    default:
      return Verdict::succeeded;
  }
}

std::string BatchTally::failure_reason() const {
  char buffer[200];
  switch (policy_.kind()) {
    case FailurePolicy::Kind::quorum:
      std::snprintf(buffer, sizeof buffer,
                    "quorum not reached: %zu succeeded, %zu needed (%zu failed)", succeeded_,
                    policy_.min_success(), failed_);
      return buffer;
    case FailurePolicy::Kind::max_error_rate:
      std::snprintf(buffer, sizeof buffer, "error rate over %.3g: %zu of %zu items failed",
                    policy_.rate(), failed_, total_ ? *total_ : succeeded_ + failed_);
      return buffer;
    default:
      return {};
  }
}

} // namespace detail

} // namespace actorflow
