#pragma once
/// Batch and parallel batch nodes: one child actor per item, a bounded window of items in
/// flight, results gathered in input order (or folded as they complete).

#include <actorflow/cluster.hpp>
#include <actorflow/node.hpp>
#include <actorflow/result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace actorflow {

/// What one item produced: ok(value) or error(code, message), with what it cost.
/// Compact on purpose (one variant, not a value and an error side by side): an ordered gather
/// keeps one per item.
struct ItemOutcome {
  std::size_t index = 0;             ///< the item's position in the input
  std::variant<Value, Error> result; ///< the value when the item succeeded, else its error
  /// From the item's first attempt to its final outcome (backoffs between attempts included).
  std::chrono::microseconds latency{0};
  std::int64_t tokens = 0;    ///< model tokens used by its attempts (ctx.llm() calls; a timed-out
                              ///< attempt's are not known)
  std::uint32_t attempts = 0; ///< attempts made at exec for this item (1 without retries)
  /// Where its latest attempt ran: empty in this Runtime, else the cluster node's "host:port"
  /// (see actorflow/cluster.hpp).
  NodeAddress ran_on{};

  [[nodiscard]] bool ok() const noexcept { return result.index() == 0; }
  /// The value; throws `Failure` with the item's error when it failed.
  [[nodiscard]] const Value& value() const {
    if (!ok())
      throw Failure(std::get<1>(result));
    return std::get<0>(result);
  }
  [[nodiscard]] Value& value() {
    if (!ok())
      throw Failure(std::get<1>(result));
    return std::get<0>(result);
  }
  /// The error; an `Error{Errc::internal, "no error: the item succeeded"}` when it succeeded.
  [[nodiscard]] Error error() const {
    if (ok())
      return Error{Errc::internal, "no error: the item succeeded"};
    return std::get<1>(result);
  }
};

/// When a batch stops, and whether it failed.
class FailurePolicy {
public:
  enum class Kind : std::uint8_t { collect, fail_fast, quorum, max_error_rate };

  /// Default: run every item; failures are counted, not fatal.
  static FailurePolicy collect() { return {Kind::collect, 0, 0.0}; }
  /// Stop at the first failed item, cancel the rest; the node fails with that item's error.
  static FailurePolicy fail_fast() { return {Kind::fail_fast, 0, 0.0}; }
  /// Succeed (and cancel the rest) once `min_success` items succeeded; fail as soon as that can
  /// no longer happen.
  static FailurePolicy quorum(std::size_t min_success) { return {Kind::quorum, min_success, 0.0}; }
  /// Fail (and cancel the rest) as soon as more than `rate` of all items have failed, which is
  /// decided early when the item count is known (an array) and at the end otherwise.
  static FailurePolicy max_error_rate(double rate) { return {Kind::max_error_rate, 0, rate}; }

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] std::size_t min_success() const noexcept { return min_success_; }
  [[nodiscard]] double rate() const noexcept { return rate_; }

private:
  FailurePolicy(Kind kind, std::size_t min_success, double rate)
      : kind_(kind), min_success_(min_success), rate_(rate) {}
  Kind kind_;
  std::size_t min_success_;
  double rate_;
};

/// How a batch runs.
struct BatchOptions {
  /// Items in flight at most (the window); 1 runs them one after another.
  std::size_t max_concurrency = 16;
  FailurePolicy policy = FailurePolicy::collect();
  /// Ordered (default): `post_batch` gets every outcome in input order. As completed: each
  /// outcome goes to `on_item` as it arrives and is not kept, so memory stays flat however
  /// many items there are; `on_item` may stop the batch early.
  bool as_completed = false;
};

/// Counts of a finished batch.
struct BatchSummary {
  std::size_t started = 0; ///< items given to a child actor
  std::size_t succeeded = 0;
  std::size_t failed = 0;    ///< including cancelled ones
  std::size_t cancelled = 0; ///< in flight when the batch stopped early
  bool stopped_early = false;
  std::chrono::microseconds wall{0};
  std::uint64_t retries = 0;        ///< attempts beyond each item's first
  std::uint64_t circuit_opened = 0; ///< times the batch's circuit opened
  /// Item launches started again because the cluster node running them died (no attempt is
  /// counted for them; see cluster.hpp).
  std::uint64_t requeued = 0;
};

/// The gathered outcomes, in input order (empty when the batch ran as completed).
struct BatchResult {
  std::vector<ItemOutcome> items;
  BatchSummary summary;
};

/// The items' values in input order, null for a failed item: what the default reducers store
/// as "results".
[[nodiscard]] Array result_values(std::vector<ItemOutcome> outcomes);

/// How many items ran where: {"local": n} for this Runtime, {"host:port": n} per cluster node.
[[nodiscard]] Map ran_on_counts(const std::vector<ItemOutcome>& outcomes);

/// A lazy sequence of items. `next` pulls one at a time (`std::nullopt` ends the sequence); it
/// is called only from the batch node's own actor, never concurrently, and only when the window
/// has room, so a generator holds back as long as the batch is busy.
struct ItemSource {
  std::function<std::optional<Value>()> next;
  std::optional<std::size_t> size; ///< the item count, when known up front
};

/// A source over the elements of an array Value (shared, not copied per item).
[[nodiscard]] ItemSource items_of(Value array);

/// PocketFlow's ParallelBatchNode: `exec` runs once per item, each in its own actor with a
/// fresh node instance (so exec needs no locks), at most `max_concurrency` at a time.
///
/// Steps: `prep(state)` → `items(state, prep)` (default: prep's result, an array) → exec per
/// item → `on_item` per outcome when `as_completed` → `post_batch(state, prep, result)`.
/// The items, `on_item` and `post_batch` run on the batch node's own instance, in its actor.
class ParallelBatchNode : public Node {
public:
  explicit ParallelBatchNode(BatchOptions options = {}) : options_(options) {}

  /// The items to run exec on, pulled lazily. Default: `prep_result`, which must be an array.
  virtual ItemSource items(const State& state, const Value& prep_result);

  /// With `as_completed`: called for each outcome in completion order. Return false to stop
  /// the batch now (items in flight are cancelled). Default: true.
  virtual bool on_item(const ItemOutcome& outcome);

  /// Writes the results into the state and names the action. Default: stores the values in
  /// input order (null for failed items) as an array under "results" and returns
  /// `default_action`.
  virtual std::string post_batch(State& state, const Value& prep_result, BatchResult result);

  [[nodiscard]] const BatchOptions& batch_options() const noexcept { return options_; }

  /// The version of what exec computes, for durable runs (actorflow/checkpoint.hpp): an item's
  /// committed outcome is found again on resume only under the same node path, version and
  /// input. Change it when a change of exec must not reuse outcomes the old code committed.
  /// Default: "".
  [[nodiscard]] virtual std::string checkpoint_version() const { return {}; }

private:
  BatchOptions options_;
};

/// PocketFlow's BatchNode: the same, one item at a time (a window of one).
class BatchNode : public ParallelBatchNode {
public:
  explicit BatchNode(FailurePolicy policy = FailurePolicy::collect())
      : ParallelBatchNode(
            BatchOptions{.max_concurrency = 1, .policy = policy, .as_completed = false}) {}
};

} // namespace actorflow
