#pragma once
// Decides, outcome by outcome, whether a batch goes on, has succeeded early, or has failed,
// under its FailurePolicy. Plain logic: the fan-out actor feeds it, tests drive it directly.

#include <actorflow/batch.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace actorflow::detail {

class BatchTally {
public:
  enum class Verdict { running, succeeded, failed };

  explicit BatchTally(FailurePolicy policy) : policy_(policy) {}

  /// The number of items, once known (an array up front, a generator when it runs dry).
  void set_total(std::size_t total) { total_ = total; }
  /// Records one finished item and says what the policy makes of the batch now.
  Verdict record(bool ok);
  /// The verdict once every item has finished.
  [[nodiscard]] Verdict at_end() const;
  /// Why the batch failed, for the error message (empty while it has not).
  [[nodiscard]] std::string failure_reason() const;

  [[nodiscard]] std::size_t succeeded() const noexcept { return succeeded_; }
  [[nodiscard]] std::size_t failed() const noexcept { return failed_; }
  [[nodiscard]] std::optional<std::size_t> total() const noexcept { return total_; }

private:
  [[nodiscard]] bool error_rate_exceeded(std::size_t of) const;

  FailurePolicy policy_;
  std::size_t succeeded_ = 0;
  std::size_t failed_ = 0;
  std::optional<std::size_t> total_;
};

} // namespace actorflow::detail
