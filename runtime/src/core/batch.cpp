#include "core/batch_tally.hpp"

#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace actorflow {

// -- NodeAddress --------------------------------------------------------------------------------

namespace {

// Every address seen, never removed: a deque keeps each string where it is as it grows, so a
// reference handed out stays valid without the lock. Index 0 is this Runtime's "".
struct AddressTable {
  std::mutex lock;
  std::deque<std::string> addresses{std::string{}};
  std::unordered_map<std::string_view, std::uint32_t> ids; // views into `addresses`
};

AddressTable& address_table() {
  static AddressTable table; // never destroyed before the outcomes that refer to it
  return table;
}

} // namespace

NodeAddress::NodeAddress(std::string_view address) {
  if (address.empty())
    return;
  auto& table = address_table();
  std::lock_guard guard{table.lock};
  if (auto found = table.ids.find(address); found != table.ids.end()) {
    id_ = found->second;
    return;
  }
  id_ = static_cast<std::uint32_t>(table.addresses.size());
  table.ids.emplace(table.addresses.emplace_back(address), id_);
}

const std::string& NodeAddress::str() const {
  auto& table = address_table();
  std::lock_guard guard{table.lock};
  return table.addresses[id_];
}

// -- BatchTally ---------------------------------------------------------------------------------

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
      std::snprintf(buffer, sizeof buffer, "quorum not reached: %zu succeeded, %zu needed (%zu failed)",
                    succeeded_, policy_.min_success(), failed_);
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

// -- ParallelBatchNode defaults -------------------------------------------------------------------

ItemSource items_of(Value array) {
  if (!array.is_array())
    throw Failure(Error{Errc::bad_input, "batch items: prep must return an array, got " +
                                             std::string(to_string(array.type())) + " (" +
                                             array.preview() + ")"});
  auto size = array.size();
  auto shared = std::make_shared<Value>(std::move(array));
  // Each element is moved out as it is pulled: the source is its only reader.
  auto next = [shared, at = std::size_t{0}]() mutable -> std::optional<Value> {
    auto& items = shared->as_array();
    if (at >= items.size())
      return std::nullopt;
    return std::move(items[at++]);
  };
  return ItemSource{std::move(next), size};
}

ItemSource ParallelBatchNode::items(const State&, const Value& prep_result) {
  return items_of(prep_result);
}

bool ParallelBatchNode::on_item(const ItemOutcome&) { return true; }

Array result_values(std::vector<ItemOutcome> outcomes) {
  Array values;
  values.reserve(outcomes.size());
  for (auto& item : outcomes)
    values.push_back(item.ok() ? std::move(item.value()) : Value{});
  return values;
}

Map ran_on_counts(const std::vector<ItemOutcome>& outcomes) {
  std::map<NodeAddress, std::int64_t> counts; // by the 4-byte address: no string per item
  for (const auto& item : outcomes)
    counts[item.ran_on] += 1;
  Map out;
  for (const auto& [where, count] : counts)
    out.emplace(where.empty() ? "local" : where.str(), count);
  return out;
}

std::string ParallelBatchNode::post_batch(State& state, const Value&, BatchResult result) {
  state = state.with("results", result_values(std::move(result.items)));
  return std::string(default_action);
}

} // namespace actorflow
