#include <actorflow/state.hpp>

#include "core/msgpack_pack.hpp"

#include <algorithm>

namespace actorflow {

// Sorted by key, keys unique. Values sit behind their own shared pointers so that a new index
// can share every value it did not change with the index it was copied from.
struct State::Index {
  using Entry = std::pair<std::string, std::shared_ptr<const Value>>;
  std::vector<Entry> entries;

  [[nodiscard]] std::vector<Entry>::const_iterator lower_bound(std::string_view key) const {
    return std::lower_bound(entries.begin(), entries.end(), key,
                            [](const Entry& e, std::string_view k) { return e.first < k; });
  }

  [[nodiscard]] const Value* find(std::string_view key) const {
    auto it = lower_bound(key);
    return it != entries.end() && it->first == key ? it->second.get() : nullptr;
  }
};

State::State() {
  // Default States are common (every flow starts with one); sharing one empty index means
  // they allocate nothing.
  static const auto empty = std::make_shared<const Index>();
  index_ = empty;
}

State::State(const Map& map) {
  auto index = std::make_shared<Index>();
  index->entries.reserve(map.size());
  // Map iterates in std::less order, the same order the index keeps.
  for (const auto& [key, value] : map)
    index->entries.emplace_back(key, std::make_shared<const Value>(value));
  index_ = std::move(index);
}

State::State(std::shared_ptr<const Index> index) : index_(std::move(index)) {}

const Value& State::at(std::string_view key) const {
  if (const Value* value = index_->find(key))
    return *value;
  constexpr std::size_t max_listed = 10;
  std::string message = "State::at: no key '" + std::string(key) + "'; ";
  const auto& entries = index_->entries;
  if (entries.empty()) {
    message += "the State is empty";
  } else {
    message += "present: ";
    const std::size_t listed = std::min(entries.size(), max_listed);
    for (std::size_t i = 0; i < listed; ++i) {
      if (i > 0)
        message += ", ";
      message += entries[i].first;
    }
    if (entries.size() > listed)
      message += " and " + std::to_string(entries.size() - listed) + " more";
  }
  throw BadValueAccess(message);
}

const Value* State::find(std::string_view key) const noexcept { return index_->find(key); }

Value State::get_or(std::string_view key, Value fallback) const {
  if (const Value* value = index_->find(key))
    return *value;
  return fallback;
}

bool State::contains(std::string_view key) const noexcept { return index_->find(key) != nullptr; }

std::size_t State::size() const noexcept { return index_->entries.size(); }

std::vector<std::string> State::keys() const {
  std::vector<std::string> keys;
  keys.reserve(index_->entries.size());
  for (const auto& entry : index_->entries)
    keys.push_back(entry.first);
  return keys;
}

State State::with(std::string key, Value value) const {
  const auto& old = index_->entries;
  const auto pos = index_->lower_bound(key);
  const bool replace = pos != old.end() && pos->first == key;
  auto index = std::make_shared<Index>();
  auto& entries = index->entries;
  entries.reserve(old.size() + (replace ? 0 : 1));
  entries.insert(entries.end(), old.begin(), pos);
  entries.emplace_back(std::move(key), std::make_shared<const Value>(std::move(value)));
  entries.insert(entries.end(), replace ? pos + 1 : pos, old.end());
  return State(std::move(index));
}

State State::with(std::vector<std::pair<std::string, Value>> updates) const {
  if (updates.empty())
    return *this;
  // Stable, so that among equal keys the later pair stays behind and wins below.
  std::stable_sort(updates.begin(), updates.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const auto& old = index_->entries;
  auto index = std::make_shared<Index>();
  auto& entries = index->entries;
  entries.reserve(old.size() + updates.size());
  // One merge pass of two sorted sequences: the index is copied once however many updates.
  auto next_old = old.begin();
  for (std::size_t i = 0; i < updates.size(); ++i) {
    auto& [key, value] = updates[i];
    if (i + 1 < updates.size() && updates[i + 1].first == key)
      continue;
    while (next_old != old.end() && next_old->first < key)
      entries.push_back(*next_old++);
    if (next_old != old.end() && next_old->first == key)
      ++next_old;
    entries.emplace_back(std::move(key), std::make_shared<const Value>(std::move(value)));
  }
  entries.insert(entries.end(), next_old, old.end());
  return State(std::move(index));
}

State State::without(std::string_view key) const {
  const auto& old = index_->entries;
  const auto pos = index_->lower_bound(key);
  if (pos == old.end() || pos->first != key)
    return *this;
  auto index = std::make_shared<Index>();
  index->entries.reserve(old.size() - 1);
  index->entries.insert(index->entries.end(), old.begin(), pos);
  index->entries.insert(index->entries.end(), pos + 1, old.end());
  return State(std::move(index));
}

Value State::to_value() const {
  Map map;
  for (const auto& [key, value] : index_->entries)
    map.emplace_hint(map.end(), key, *value);
  return Value(std::move(map));
}

bool operator==(const State& a, const State& b) {
  if (a.index_ == b.index_)
    return true;
  // Comparing pointers first skips the deep comparison for every value the two share.
  return std::equal(a.index_->entries.begin(), a.index_->entries.end(), b.index_->entries.begin(),
                    b.index_->entries.end(), [](const auto& x, const auto& y) {
                      return x.first == y.first && (x.second == y.second || *x.second == *y.second);
                    });
}

std::vector<std::uint8_t> to_msgpack(const State& state) {
  // Encoded from the shared values directly: going through to_value() would deep-copy them.
  detail::MsgpackWriter writer;
  writer.packer.pack_map(detail::msgpack_length(state.size(), "map"));
  for (const std::string& key : state.keys()) {
    detail::pack_string(writer, key);
    detail::pack_value(writer, *state.find(key));
  }
  return writer.bytes();
}

Result<State> state_from_msgpack(std::span<const std::uint8_t> bytes) {
  Result<Value> decoded = from_msgpack(bytes);
  if (!decoded)
    return Error{decoded.error().code, "State: " + decoded.error().message};
  Value& value = *decoded;
  if (!value.is_map())
    return Error{Errc::bad_input,
                 "State: expected a msgpack map, got " + std::string(to_string(value.type()))};
  // Move keys and values out of the decoded map rather than copying them (State(const Map&)).
  Map& map = value.as_map();
  std::vector<std::pair<std::string, Value>> members;
  members.reserve(map.size());
  while (!map.empty()) {
    auto node = map.extract(map.begin());
    members.emplace_back(std::move(node.key()), std::move(node.mapped()));
  }
  return State().with(std::move(members));
}

} // namespace actorflow
