// msgpack (msgpack-c) and JSON (nlohmann) encodings of Value. Both libraries stay inside this
// file (and state.cpp for msgpack), never in public headers.

#include <actorflow/value.hpp>

#include "core/base64.hpp"
#include "core/msgpack_pack.hpp"
#include "core/msgpack_shape.hpp"
#include "core/nesting.hpp"
#include "core/value_json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <new>
#include <string>

namespace actorflow {

// -- msgpack: encoding ---------------------------------------------------------------------

namespace detail {

std::uint32_t msgpack_length(std::size_t n, std::string_view what) {
  if (n > std::numeric_limits<std::uint32_t>::max())
    throw Failure(Error{Errc::bad_input, "msgpack: " + std::string(what) + " of length " +
                                             std::to_string(n) +
                                             " exceeds msgpack's 32-bit length limit"});
  return static_cast<std::uint32_t>(n);
}

void pack_string(MsgpackWriter& writer, std::string_view text) {
  const std::uint32_t n = msgpack_length(text.size(), "string");
  writer.packer.pack_str(n);
  writer.packer.pack_str_body(text.data(), n);
}

namespace {

void pack_float64(MsgpackWriter& writer, double d) {
  // Not packer.pack_double: msgpack-c 4.1 writes whole doubles such as 1.0 as integers, and
  // they would come back as int64.
  const auto bits = std::bit_cast<std::uint64_t>(d);
  char bytes[9];
  bytes[0] = static_cast<char>(0xcb);
  for (int i = 0; i < 8; ++i)
    bytes[1 + i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xff);
  writer.buffer.write(bytes, sizeof bytes);
}

} // namespace

void pack_value(MsgpackWriter& writer, const Value& value) {
  auto& packer = writer.packer;
  switch (value.type()) {
    case ValueType::null:
      packer.pack_nil();
      break;
    case ValueType::boolean:
      if (value.as_bool())
        packer.pack_true();
      else
        packer.pack_false();
      break;
    case ValueType::integer:
      // pack_int64 picks the smallest encoding (fixint, int8, ..., uint64) for the number.
      packer.pack_int64(value.as_int());
      break;
    case ValueType::real:
      pack_float64(writer, value.as_double());
      break;
    case ValueType::string:
      pack_string(writer, value.as_string());
      break;
    case ValueType::binary: {
      const auto& bytes = value.as_binary().bytes;
      const std::uint32_t n = msgpack_length(bytes.size(), "binary");
      packer.pack_bin(n);
      // An empty vector may have a null data(); memcpy from null is undefined even for 0 bytes.
      if (n > 0)
        packer.pack_bin_body(reinterpret_cast<const char*>(bytes.data()), n);
      break;
    }
    case ValueType::array: {
      const auto& array = value.as_array();
      packer.pack_array(msgpack_length(array.size(), "array"));
      for (const Value& item : array)
        pack_value(writer, item);
      break;
    }
    case ValueType::map: {
      const auto& map = value.as_map();
      packer.pack_map(msgpack_length(map.size(), "map"));
      for (const auto& [key, member] : map) {
        pack_string(writer, key);
        pack_value(writer, member);
      }
      break;
    }
  }
}

std::vector<std::uint8_t> MsgpackWriter::bytes() const {
  const auto* begin = reinterpret_cast<const std::uint8_t*>(buffer.data());
  return {begin, begin + buffer.size()};
}

} // namespace detail

std::vector<std::uint8_t> to_msgpack(const Value& value) {
  detail::MsgpackWriter writer;
  detail::pack_value(writer, value);
  return writer.bytes();
}

// -- msgpack: decoding ---------------------------------------------------------------------

namespace {

constexpr std::size_t max_depth = detail::max_nesting;

Error bad_msgpack(const std::string& what) { return Error{Errc::bad_input, "msgpack: " + what}; }

std::string plural(std::size_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

// Lets msgpack-c point str/bin objects into the input instead of copying them into its zone;
// safe because every object is converted to a Value before from_msgpack returns.
bool reference_input(msgpack::type::object_type, std::size_t, void*) { return true; }

std::string_view msgpack_type_name(msgpack::type::object_type type) {
  switch (type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "bool";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "int";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "float";
    case msgpack::type::STR:
      return "str";
    case msgpack::type::BIN:
      return "bin";
    case msgpack::type::ARRAY:
      return "array";
    case msgpack::type::MAP:
      return "map";
    case msgpack::type::EXT:
      return "ext";
  }
  return "unknown";
}

bool is_identifier(std::string_view key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9'))
    return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

// Turns msgpack-c's object tree into a Value. Recursion is safe: unpack already refused
// anything deeper than max_depth. Errors name the spot as a path such as $.items[3]; the path
// is collected only while a failure unwinds, so successful decoding pays nothing for it.
class ObjectConverter {
public:
  /// Fills `out`, or returns false and leaves the reason in `error()`.
  bool convert(const msgpack::object& object, Value& out) {
    switch (object.type) {
      case msgpack::type::NIL:
        out = Value();
        return true;
      case msgpack::type::BOOLEAN:
        out = Value(object.via.boolean);
        return true;
      case msgpack::type::POSITIVE_INTEGER:
        if (object.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return fail("unsigned integer " + std::to_string(object.via.u64) + " is above INT64_MAX");
        out = Value(static_cast<std::int64_t>(object.via.u64));
        return true;
      case msgpack::type::NEGATIVE_INTEGER:
        out = Value(object.via.i64);
        return true;
      case msgpack::type::FLOAT32: // msgpack-c has already widened it into f64
      case msgpack::type::FLOAT64:
        out = Value(object.via.f64);
        return true;
      case msgpack::type::STR:
        out = Value(std::string(object.via.str.ptr, object.via.str.size));
        return true;
      case msgpack::type::BIN: {
        const auto* begin = reinterpret_cast<const std::uint8_t*>(object.via.bin.ptr);
        out = Value(Binary{std::vector<std::uint8_t>(begin, begin + object.via.bin.size)});
        return true;
      }
      case msgpack::type::ARRAY:
        return convert_array(object.via.array, out);
      case msgpack::type::MAP:
        return convert_map(object.via.map, out);
      case msgpack::type::EXT:
        return fail("ext type " + std::to_string(object.via.ext.type()) + " (" +
                    plural(object.via.ext.size, "byte") + ") is not supported");
    }
    return fail("unknown object type " + std::to_string(static_cast<int>(object.type)));
  }

  /// What went wrong and where, e.g. "duplicate map key at $.a[2].k".
  [[nodiscard]] std::string error() const {
    std::string path = "$";
    for (auto it = trail_.rbegin(); it != trail_.rend(); ++it)
      path += *it;
    return what_ + " at " + path;
  }

private:
  bool convert_array(const msgpack::object_array& source, Value& out) {
    Array array;
    array.reserve(source.size);
    for (std::uint32_t i = 0; i < source.size; ++i) {
      if (!convert(source.ptr[i], array.emplace_back())) {
        trail_.push_back('[' + std::to_string(i) + ']');
        return false;
      }
    }
    out = Value(std::move(array));
    return true;
  }

  bool convert_map(const msgpack::object_map& source, Value& out) {
    Map map;
    for (std::uint32_t i = 0; i < source.size; ++i) {
      const msgpack::object& key = source.ptr[i].key;
      if (key.type != msgpack::type::STR)
        return fail("map key #" + std::to_string(i) + " is " +
                    std::string(msgpack_type_name(key.type)) + ", not str");
      auto [it, inserted] = map.try_emplace(std::string(key.via.str.ptr, key.via.str.size));
      // Our encoder never writes duplicates, so one means a broken peer; picking either
      // value silently would hide that.
      if (!inserted || !convert(source.ptr[i].val, it->second)) {
        if (!inserted)
          fail("duplicate map key");
        trail_.push_back(key_segment(it->first));
        return false;
      }
    }
    out = Value(std::move(map));
    return true;
  }

  static std::string key_segment(const std::string& key) {
    constexpr std::size_t max_chars = 66;
    if (key.size() <= max_chars && is_identifier(key))
      return '.' + key;
    // Quoted like a JSON string, and shortened: a key can be megabytes long.
    return '[' + Value(std::string_view(key).substr(0, max_chars + 1)).preview(max_chars) + ']';
  }

  bool fail(std::string what) {
    what_ = std::move(what);
    return false;
  }

  std::string what_;
  std::vector<std::string> trail_; // path segments, innermost first
};

} // namespace

namespace {

// Decodes the object at `offset` in `bytes`, with limits and messages for the input
// `bytes[offset..]`, and moves `offset` past it. `whole`: the object must end the input.
Result<Value> decode_at(std::span<const std::uint8_t> bytes, std::size_t& offset, bool whole) {
  const std::size_t start = std::min(offset, bytes.size());
  const std::size_t size = bytes.size() - start;
  const auto input = [size] { return " in the " + std::to_string(size) + "-byte input"; };
  if (size == 0)
    return bad_msgpack("empty input");
  const auto* data = reinterpret_cast<const char*>(bytes.data()) + start;
  // The whole shape first (see msgpack_shape.hpp): msgpack-c's own limits are per header.
  std::size_t shape_end = 0;
  if (auto problem = detail::msgpack_shape_problem(bytes.subspan(start), max_depth, shape_end);
      !problem.empty())
    return bad_msgpack(problem + input());
  // Each element takes at least one byte (each map pair two), so no honest header announces
  // more than the input holds. Without these caps a 5-byte array header would make msgpack-c
  // reserve room for four billion objects before noticing the input is short.
  const msgpack::unpack_limit limit(size, size / 2, size, size, size, max_depth);
  std::size_t used = 0;
  // msgpack-c reports every failure by throwing; this is where they turn into an Error.
  try {
    const msgpack::object_handle handle =
        msgpack::unpack(data, size, used, reference_input, nullptr, limit);
    if (whole && used != size)
      return bad_msgpack("trailing " + plural(size - used, "byte") + " after offset " +
                         std::to_string(used) + " (the end of the first object)");
    Value value;
    ObjectConverter converter;
    if (!converter.convert(handle.get(), value))
      return bad_msgpack(converter.error());
    offset = start + used;
    return value;
  } catch (const msgpack::insufficient_bytes&) {
    return bad_msgpack("truncated input: the " + std::to_string(size) +
                       "-byte input ends inside an object");
  } catch (const msgpack::depth_size_overflow&) {
    return bad_msgpack("nesting deeper than " + std::to_string(max_depth) + " levels" + input());
  } catch (const msgpack::array_size_overflow&) {
    // A short input usually cuts through a header's contents, so say "truncated" here too.
    return bad_msgpack("truncated or corrupt input: an array header announces more elements"
                       " than fit" +
                       input());
  } catch (const msgpack::map_size_overflow&) {
    return bad_msgpack("truncated or corrupt input: a map header announces more pairs"
                       " than fit" +
                       input());
  } catch (const msgpack::size_overflow&) {
    return bad_msgpack("truncated or corrupt input: a str, bin or ext header announces more"
                       " bytes than fit" +
                       input());
  } catch (const msgpack::parse_error&) {
    // The one byte msgpack-c's parser rejects is 0xc1, which the format never uses.
    return bad_msgpack("invalid msgpack type byte 0xc1 (one the format never uses)" + input());
  } catch (const msgpack::unpack_error& e) {
    return bad_msgpack(std::string(e.what()) + input());
  } catch (const std::bad_alloc&) {
    return bad_msgpack("out of memory decoding" + input());
  }
}

} // namespace

Result<Value> from_msgpack(std::span<const std::uint8_t> bytes) {
  std::size_t offset = 0;
  return decode_at(bytes, offset, /*whole=*/true);
}

Result<Value> from_msgpack_at(std::span<const std::uint8_t> bytes, std::size_t& offset) {
  return decode_at(bytes, offset, /*whole=*/false);
}

// -- JSON ----------------------------------------------------------------------------------

using Json = nlohmann::json;

Json detail::to_nlohmann(const Value& value) {
  switch (value.type()) {
    case ValueType::null:
      return nullptr;
    case ValueType::boolean:
      return value.as_bool();
    case ValueType::integer:
      return value.as_int();
    case ValueType::real: {
      const double d = value.as_double();
      if (!std::isfinite(d))
        return nullptr;
      return d;
    }
    case ValueType::string:
      return value.as_string();
    case ValueType::binary:
      return detail::base64_encode(value.as_binary().bytes);
    case ValueType::array: {
      Json array = Json::array();
      for (const Value& item : value.as_array())
        array.push_back(to_nlohmann(item));
      return array;
    }
    case ValueType::map: {
      Json object = Json::object();
      for (const auto& [key, member] : value.as_map())
        object.emplace(key, to_nlohmann(member));
      return object;
    }
  }
  return nullptr;
}

namespace {

Result<Value> from_nlohmann_at(const Json& json, std::size_t depth) {
  if (depth > max_depth)
    return Error{Errc::bad_input,
                 "JSON: nesting deeper than " + std::to_string(max_depth) + " levels"};
  switch (json.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      return Value();
    case Json::value_t::boolean:
      return Value(json.get<bool>());
    case Json::value_t::number_integer:
      return Value(json.get<std::int64_t>());
    case Json::value_t::number_unsigned: {
      auto u = json.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return Value(static_cast<double>(u));
      return Value(static_cast<std::int64_t>(u));
    }
    case Json::value_t::number_float:
      return Value(json.get<double>());
    case Json::value_t::string:
      return Value(json.get<std::string>());
    case Json::value_t::binary:
      return Error{Errc::bad_input, "JSON: unexpected binary value"};
    case Json::value_t::array: {
      Array out;
      out.reserve(json.size());
      for (const auto& item : json) {
        auto v = from_nlohmann_at(item, depth + 1);
        if (!v)
          return v;
        out.push_back(std::move(*v));
      }
      return Value(std::move(out));
    }
    case Json::value_t::object: {
      Map out;
      for (const auto& [key, member] : json.items()) {
        auto v = from_nlohmann_at(member, depth + 1);
        if (!v)
          return v;
        out.insert_or_assign(key, std::move(*v));
      }
      return Value(std::move(out));
    }
  }
  return Value();
}

} // namespace

Result<Value> detail::from_nlohmann(const Json& json) { return from_nlohmann_at(json, 1); }

namespace {

// Builds a Value straight from nlohmann's SAX events: no intermediate json tree, no exceptions,
// and an explicit stack with the same depth limit as msgpack (Value's destructor and encoders
// recurse, so unbounded nesting would only move the crash elsewhere).
class JsonBuilder {
public:
  bool null() { return add(Value()); }
  bool boolean(bool b) { return add(Value(b)); }
  bool number_integer(Json::number_integer_t i) { return add(Value(i)); }
  bool number_unsigned(Json::number_unsigned_t u) {
    // JSON numbers carry no type; beyond int64 a double is the closest honest value.
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return add(Value(static_cast<double>(u)));
    return add(Value(static_cast<std::int64_t>(u)));
  }
  bool number_float(Json::number_float_t d, const Json::string_t& /*text*/) {
    return add(Value(d));
  }
  bool string(Json::string_t& s) { return add(Value(std::move(s))); }
  bool binary(Json::binary_t& /*bytes*/) {
    // Only binary formats (CBOR, BSON, ...) produce this event, never JSON text.
    error_ = "JSON: unexpected binary value";
    return false;
  }
  bool start_object(std::size_t /*elements*/) { return open(Value(Map{})); }
  bool key(Json::string_t& k) {
    stack_.back().key = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(Value(Array{})); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& e) {
    // what() starts with "[json.exception.parse_error.101] "; the rest has line and column.
    std::string_view text = e.what();
    if (auto end = text.find("] "); !text.empty() && text[0] == '[' && end != text.npos)
      text.remove_prefix(end + 2);
    error_ = "JSON: " + std::string(text);
    // Some errors (a number out of range) come without a position of their own.
    if (text.find("line ") == text.npos)
      error_ += " (at byte " + std::to_string(position) + ")";
    return false;
  }

  [[nodiscard]] Result<Value> finish(bool parsed) && {
    if (!parsed || !stack_.empty())
      return Error{Errc::bad_input, error_.empty() ? "JSON: parse failed" : error_};
    return std::move(root_);
  }

private:
  struct Frame {
    Value container;
    std::string key; // the pending key while the container is a map
  };

  bool add(Value value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return true;
    }
    Frame& top = stack_.back();
    if (top.container.is_array())
      top.container.as_array().push_back(std::move(value));
    else // like most JSON parsers, a repeated key keeps the last value
      top.container.as_map().insert_or_assign(std::move(top.key), std::move(value));
    return true;
  }

  bool open(Value container) {
    if (stack_.size() >= max_depth) {
      error_ = "JSON: nesting deeper than " + std::to_string(max_depth) + " levels";
      return false;
    }
    stack_.push_back(Frame{std::move(container), {}});
    return true;
  }

  bool close() {
    Value done = std::move(stack_.back().container);
    stack_.pop_back();
    return add(std::move(done));
  }

  std::vector<Frame> stack_;
  Value root_;
  std::string error_;
};

} // namespace

std::string to_json(const Value& value, int indent) {
  // JSON text must be UTF-8; replacing bad sequences beats throwing from a formatter.
  return detail::to_nlohmann(value).dump(indent < 0 ? -1 : indent, ' ', false,
                                         Json::error_handler_t::replace);
}

Result<Value> from_json(std::string_view text) {
  JsonBuilder builder;
  const bool parsed = Json::sax_parse(text.begin(), text.end(), &builder);
  return std::move(builder).finish(parsed);
}

} // namespace actorflow
