#include <actorflow/batch.hpp>

#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace actorflow {

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
