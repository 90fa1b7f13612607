#include <actorflow/value.hpp>

#include "core/base64.hpp"
#include "core/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace actorflow {

std::string_view to_string(ValueType type) noexcept {
  switch (type) {
    case ValueType::null:
      return "null";
    case ValueType::boolean:
      return "bool";
    case ValueType::integer:
      return "int64";
    case ValueType::real:
      return "double";
    case ValueType::string:
      return "string";
    case ValueType::binary:
      return "binary";
    case ValueType::array:
      return "array";
    case ValueType::map:
      return "map";
  }
  return "unknown";
}

namespace detail {

std::string json_quote(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace detail

namespace {

using detail::json_quote;

// Compact JSON that stops once it holds more than `budget` characters: a preview for an error
// message must not cost as much as serialising a huge value. Recursion is bounded too, since
// every level writes at least one character before descending.
class PreviewWriter {
public:
  explicit PreviewWriter(std::size_t budget) : budget_(budget) {}

  void write(const Value& value) {
    if (full())
      return;
    switch (value.type()) {
      case ValueType::null:
        out_ += "null";
        break;
      case ValueType::boolean:
        out_ += value.as_bool() ? "true" : "false";
        break;
      case ValueType::integer:
        out_ += std::to_string(value.as_int());
        break;
      case ValueType::real:
        write_double(value.as_double());
        break;
      case ValueType::string:
        write_string(value.as_string());
        break;
      case ValueType::binary:
        write_binary(value.as_binary());
        break;
      case ValueType::array:
        write_array(value.as_array());
        break;
      case ValueType::map:
        write_map(value.as_map());
        break;
    }
  }

  std::string finish() && {
    if (out_.size() <= budget_)
      return std::move(out_);
    constexpr std::string_view ellipsis = "...";
    const std::size_t keep = budget_ > ellipsis.size() ? budget_ - ellipsis.size() : 0;
    out_.resize(detail::utf8_prefix(out_, keep).size()); // no character is cut in half
    out_ += ellipsis;
    return std::move(out_);
  }

private:
  [[nodiscard]] bool full() const noexcept { return out_.size() > budget_; }
  // Every input byte yields at least one output character, so this many fill the budget.
  [[nodiscard]] std::size_t room() const noexcept { return budget_ - out_.size() + 1; }

  void write_double(double d) {
    // Not JSON's null: a person reading "holds double (null)" would be misled.
    if (std::isnan(d))
      out_ += "NaN";
    else if (std::isinf(d))
      out_ += d > 0 ? "Infinity" : "-Infinity";
    else
      out_ += nlohmann::json(d).dump();
  }

  void write_string(const std::string& text) {
    out_ += json_quote(std::string_view(text).substr(0, room()));
  }

  void write_binary(const Binary& binary) {
    // Whole 3-byte groups, so the prefix encodes to a prefix of the full base64 text.
    const std::size_t take = std::min(binary.bytes.size(), (room() / 4 + 1) * 3);
    out_ += '"';
    out_ += detail::base64_encode(std::span(binary.bytes).first(take));
    out_ += '"';
  }

  void write_array(const Array& array) {
    out_ += '[';
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (full())
        return;
      if (i > 0)
        out_ += ',';
      write(array[i]);
    }
    out_ += ']';
  }

  void write_map(const Map& map) {
    out_ += '{';
    bool first = true;
    for (const auto& [key, member] : map) {
      if (full())
        return;
      if (!first)
        out_ += ',';
      first = false;
      write_string(key);
      out_ += ':';
      write(member);
    }
    out_ += '}';
  }

  std::size_t budget_;
  std::string out_;
};

} // namespace

Value Value::object(std::initializer_list<std::pair<const std::string, Value>> kv) {
  return Value(Map(kv));
}

Value Value::array(std::initializer_list<Value> items) { return Value(Array(items)); }

bool Value::as_bool() const {
  if (const auto* b = std::get_if<bool>(&data_))
    return *b;
  throw_mismatch("Value::as_bool", ValueType::boolean);
}

std::int64_t Value::as_int() const {
  if (const auto* i = std::get_if<std::int64_t>(&data_))
    return *i;
  throw_mismatch("Value::as_int", ValueType::integer);
}

double Value::as_double() const {
  if (const auto* d = std::get_if<double>(&data_))
    return *d;
  if (const auto* i = std::get_if<std::int64_t>(&data_))
    return static_cast<double>(*i);
  throw_mismatch("Value::as_double", ValueType::real);
}

const std::string& Value::as_string() const {
  if (const auto* s = std::get_if<std::string>(&data_))
    return *s;
  throw_mismatch("Value::as_string", ValueType::string);
}

const Binary& Value::as_binary() const {
  if (const auto* b = std::get_if<Binary>(&data_))
    return *b;
  throw_mismatch("Value::as_binary", ValueType::binary);
}

const Array& Value::as_array() const {
  if (const auto* a = std::get_if<Array>(&data_))
    return *a;
  throw_mismatch("Value::as_array", ValueType::array);
}

Array& Value::as_array() {
  if (auto* a = std::get_if<Array>(&data_))
    return *a;
  throw_mismatch("Value::as_array", ValueType::array);
}

const Map& Value::as_map() const {
  if (const auto* m = std::get_if<Map>(&data_))
    return *m;
  throw_mismatch("Value::as_map", ValueType::map);
}

Map& Value::as_map() {
  if (auto* m = std::get_if<Map>(&data_))
    return *m;
  throw_mismatch("Value::as_map", ValueType::map);
}

const Value& Value::at(std::string_view key) const {
  const auto* map = std::get_if<Map>(&data_);
  if (map == nullptr)
    throw_mismatch("Value::at", ValueType::map);
  if (auto it = map->find(key); it != map->end())
    return it->second;
  throw BadValueAccess("Value::at: no key " + json_quote(key) + " in map " + preview());
}

const Value& Value::at(std::size_t index) const {
  const auto* array = std::get_if<Array>(&data_);
  if (array == nullptr)
    throw_mismatch("Value::at", ValueType::array);
  if (index < array->size())
    return (*array)[index];
  throw BadValueAccess("Value::at: index " + std::to_string(index) +
                       " out of range for array of size " + std::to_string(array->size()));
}

const Value* Value::find(std::string_view key) const noexcept {
  const auto* map = std::get_if<Map>(&data_);
  if (map == nullptr)
    return nullptr;
  auto it = map->find(key);
  return it == map->end() ? nullptr : &it->second;
}

std::size_t Value::size() const noexcept {
  if (const auto* a = std::get_if<Array>(&data_))
    return a->size();
  if (const auto* m = std::get_if<Map>(&data_))
    return m->size();
  return 0;
}

std::string Value::preview(std::size_t max_chars) const {
  PreviewWriter writer(max_chars);
  writer.write(*this);
  return std::move(writer).finish();
}

void Value::throw_unsigned_overflow(unsigned long long i) {
  throw BadValueAccess("Value: unsigned integer " + std::to_string(i) +
                       " does not fit int64 (max " + std::to_string(INT64_MAX) + ")");
}

void Value::throw_mismatch(const char* accessor, ValueType wanted) const {
  std::string message(accessor);
  message += ": holds ";
  message += to_string(type());
  message += " (";
  message += preview();
  message += "), not ";
  message += to_string(wanted);
  throw BadValueAccess(message);
}

} // namespace actorflow
