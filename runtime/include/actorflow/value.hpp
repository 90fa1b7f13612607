#pragma once
/// `Value`: the dynamic value that crosses actor and machine boundaries.

#include <actorflow/result.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace actorflow {

class Value;

/// The kinds a `Value` can hold, in the order of `Value::type()`.
enum class ValueType : std::uint8_t { null, boolean, integer, real, string, binary, array, map };

/// "null", "bool", "int64", "double", "string", "binary", "array", "map".
[[nodiscard]] std::string_view to_string(ValueType type) noexcept;

/// Raw bytes; a distinct type so that bytes never pass for text or for an array of numbers.
struct Binary {
  std::vector<std::uint8_t> bytes;
  friend bool operator==(const Binary&, const Binary&) = default;
};

using Array = std::vector<Value>;
/// Keys are strings: that is what msgpack maps from other languages and JSON objects hold.
using Map = std::map<std::string, Value, std::less<>>;

/// Thrown by the `as_*` accessors when the value holds another type. The message names both
/// types and shows the value, e.g. "Value::as_string: holds int64 (42), not string".
class BadValueAccess : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

/// A dynamic value: null, bool, int64, double, string, binary, array or map.
///
/// Plain value semantics: copies are deep and independent, equality compares contents
/// (an int64 never equals a double, as in msgpack). Not synchronised: share a Value across
/// threads only as const (or inside a `State`, which is immutable).
class Value {
public:
  // -- construction ----------------------------------------------------------

  Value() = default; ///< null
  Value(std::nullptr_t) {}
  Value(bool b) : data_(b) {}
  /// Any integer type up to 64 bits; unsigned values above INT64_MAX do not fit and throw
  /// `BadValueAccess` rather than wrap around.
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) Value(I i) : data_(checked_int(i)) {}
  Value(double d) : data_(d) {}
  Value(float f) : data_(static_cast<double>(f)) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(std::string_view s) : data_(std::string(s)) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(Binary b) : data_(std::move(b)) {}
  Value(Array a) : data_(std::move(a)) {}
  Value(Map m) : data_(std::move(m)) {}

  /// A map from key/value pairs: `Value::object({{"n", 1}, {"name", "x"}})`.
  [[nodiscard]] static Value object(std::initializer_list<std::pair<const std::string, Value>> kv);
  /// An array: `Value::array({1, "two", 3.0})`.
  [[nodiscard]] static Value array(std::initializer_list<Value> items);

  // -- inspection ------------------------------------------------------------

  [[nodiscard]] ValueType type() const noexcept { return static_cast<ValueType>(data_.index()); }
  [[nodiscard]] bool is_null() const noexcept { return type() == ValueType::null; }
  [[nodiscard]] bool is_bool() const noexcept { return type() == ValueType::boolean; }
  [[nodiscard]] bool is_int() const noexcept { return type() == ValueType::integer; }
  [[nodiscard]] bool is_double() const noexcept { return type() == ValueType::real; }
  /// int64 or double.
  [[nodiscard]] bool is_number() const noexcept { return is_int() || is_double(); }
  [[nodiscard]] bool is_string() const noexcept { return type() == ValueType::string; }
  [[nodiscard]] bool is_binary() const noexcept { return type() == ValueType::binary; }
  [[nodiscard]] bool is_array() const noexcept { return type() == ValueType::array; }
  [[nodiscard]] bool is_map() const noexcept { return type() == ValueType::map; }

  // -- access (throw BadValueAccess naming both types on a mismatch) -------------

  [[nodiscard]] bool as_bool() const;
  [[nodiscard]] std::int64_t as_int() const;
  /// A double, or an int64 widened to double (the one implicit conversion: numbers from
  /// JSON often lose their fraction, "2.0" arrives as 2).
  [[nodiscard]] double as_double() const;
  [[nodiscard]] const std::string& as_string() const;
  [[nodiscard]] const Binary& as_binary() const;
  [[nodiscard]] const Array& as_array() const;
  [[nodiscard]] Array& as_array();
  [[nodiscard]] const Map& as_map() const;
  [[nodiscard]] Map& as_map();

  /// Map member; throws `BadValueAccess` naming the key if it is missing or this is no map.
  [[nodiscard]] const Value& at(std::string_view key) const;
  /// Array element; throws `BadValueAccess` naming the index and size if out of range.
  [[nodiscard]] const Value& at(std::size_t index) const;
  /// Map member or nullptr (also when this is no map).
  [[nodiscard]] const Value* find(std::string_view key) const noexcept;
  /// Elements of an array, members of a map, 0 otherwise.
  [[nodiscard]] std::size_t size() const noexcept;

  /// A short human rendering for error messages: JSON, cut to `max_chars` with "...".
  [[nodiscard]] std::string preview(std::size_t max_chars = 40) const;

  friend bool operator==(const Value&, const Value&) = default;

private:
  template <class I>
  static std::int64_t checked_int(I i) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
      if (i > static_cast<I>(INT64_MAX))
        throw_unsigned_overflow(static_cast<unsigned long long>(i));
    }
    return static_cast<std::int64_t>(i);
  }
  [[noreturn]] static void throw_unsigned_overflow(unsigned long long i);
  [[noreturn]] void throw_mismatch(const char* accessor, ValueType wanted) const;

  std::variant<std::monostate, bool, std::int64_t, double, std::string, Binary, Array, Map> data_;
};

// -- encodings --------------------------------------------------------------------

/// msgpack (msgpack-c): nil, bool, int, float64, str, bin, array, map with string keys.
[[nodiscard]] std::vector<std::uint8_t> to_msgpack(const Value& value);
/// Decodes one msgpack object that spans all of `bytes`. Errors (code bad_input) say what and
/// where: truncated input, trailing bytes, a non-string map key, an ext type, an unsigned
/// integer above INT64_MAX, nesting deeper than 256 levels.
[[nodiscard]] Result<Value> from_msgpack(std::span<const std::uint8_t> bytes);
/// Decodes the one msgpack object that starts at `offset` in `bytes` and moves `offset` past
/// it, for reading objects written one after another. Bytes after the object are left for the
/// next call. The limits and errors are those of `from_msgpack` on `bytes[offset..]` (an
/// `offset` at or past the end is "empty input"); on an error `offset` is left unchanged.
[[nodiscard]] Result<Value> from_msgpack_at(std::span<const std::uint8_t> bytes,
                                            std::size_t& offset);

/// JSON text. Binary becomes a base64 string and NaN/infinity become null (JSON has neither),
/// so only values without those round-trip exactly. `indent` < 0: one line.
[[nodiscard]] std::string to_json(const Value& value, int indent = -1);
/// Parses JSON; integers that fit int64 become int64, other numbers double.
/// Errors (bad_input) give the parser's position.
[[nodiscard]] Result<Value> from_json(std::string_view text);

} // namespace actorflow
