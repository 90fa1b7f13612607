#pragma once
/// `State`: the immutable key/value store a flow carries from node to node.

#include <actorflow/value.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow {

/// An immutable map from string to `Value` with cheap copies.
///
/// Copying a State copies one pointer. `with` returns a new State that shares every unchanged
/// value with this one (each value is stored once, behind a shared pointer; an update copies
/// the key index, never the values). Because nothing is ever modified in place, a State may be
/// read from any number of threads and parallel children never see each other's changes.
class State {
public:
  State(); ///< empty
  /// A State holding the members of `map` (a map Value's contents).
  explicit State(const Map& map);

  /// The value at `key`; throws `BadValueAccess` naming the key (and the keys present) if absent.
  [[nodiscard]] const Value& at(std::string_view key) const;
  /// The value at `key`, or nullptr.
  [[nodiscard]] const Value* find(std::string_view key) const noexcept;
  /// The value at `key`, or `fallback`.
  [[nodiscard]] Value get_or(std::string_view key, Value fallback) const;
  [[nodiscard]] bool contains(std::string_view key) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// Keys in sorted order.
  [[nodiscard]] std::vector<std::string> keys() const;

  /// A new State with `key` set to `value`; this one is unchanged.
  [[nodiscard]] State with(std::string key, Value value) const;
  /// A new State with every pair applied in order (later pairs win); one copy of the index.
  [[nodiscard]] State with(std::vector<std::pair<std::string, Value>> updates) const;
  /// A new State without `key` (the same State if it is absent).
  [[nodiscard]] State without(std::string_view key) const;

  /// All members as a map Value.
  [[nodiscard]] Value to_value() const;

  /// Equal contents (shared storage is an optimisation, not part of equality).
  friend bool operator==(const State& a, const State& b);

private:
  struct Index;
  explicit State(std::shared_ptr<const Index> index);
  std::shared_ptr<const Index> index_;
};

/// msgpack of `state.to_value()`.
[[nodiscard]] std::vector<std::uint8_t> to_msgpack(const State& state);
/// Decodes a State; an encoded value that is not a map is an error (bad_input).
[[nodiscard]] Result<State> state_from_msgpack(std::span<const std::uint8_t> bytes);

} // namespace actorflow
