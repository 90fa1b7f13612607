// ItemOutcome <-> msgpack (see outcome_codec.hpp).

#include "core/outcome_codec.hpp"

#include <actorflow/value.hpp>

#include "core/msgpack_pack.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace actorflow::detail {

namespace {

// Errc has no parser; asking `to_string` of every possible number keeps this one in step with
// the enum as codes are added.
std::optional<Errc> errc_named(std::string_view name) {
  for (unsigned number = 1; number <= unsigned{std::numeric_limits<std::uint8_t>::max()};
       ++number) {
    const auto code = static_cast<Errc>(number);
    if (const std::string_view known = to_string(code); known != "unknown" && known == name)
      return code;
  }
  return std::nullopt;
}

// The member `key` of `map` if it has `type`; `what` names where, for the error.
Result<const Value*> member(const Value& map, std::string_view key, ValueType type,
                            std::string_view what) {
  const Value* found = map.find(key);
  if (found != nullptr && found->type() == type)
    return found;
  std::string message(what);
  message += ": '";
  message += key;
  if (found == nullptr) {
    message += "' is missing";
  } else {
    message += "': expected ";
    message += to_string(type);
    message += ", got ";
    message += to_string(found->type());
  }
  return Error{Errc::bad_input, std::move(message)};
}

Result<std::int64_t> int_member(const Value& map, std::string_view key, std::string_view what) {
  Result<const Value*> found = member(map, key, ValueType::integer, what);
  if (!found)
    return found.error();
  return (*found)->as_int();
}

} // namespace

Value encode_error(const Error& error) {
  Map fields;
  fields.emplace("code", to_string(error.code));
  fields.emplace("message", error.message);
  if (error.retry_after)
    fields.emplace("retry_after_ms", error.retry_after->count());
  return fields;
}

Result<void> decode_error(const Value& fields, std::string_view what, Error& out) {
  Result<const Value*> code = member(fields, "code", ValueType::string, what);
  Result<const Value*> message = member(fields, "message", ValueType::string, what);
  if (!code)
    return code.error();
  if (!message)
    return message.error();
  const std::optional<Errc> errc = errc_named((*code)->as_string());
  if (!errc) {
    std::string unknown(what);
    unknown += " code '";
    unknown += (*code)->as_string();
    unknown += "' is unknown to this actorflow";
    return Error{Errc::bad_input, std::move(unknown)};
  }
  Error decoded{*errc, (*message)->as_string()};
  if (fields.find("retry_after_ms") != nullptr) {
    Result<std::int64_t> after = int_member(fields, "retry_after_ms", what);
    if (!after)
      return after.error();
    decoded.retry_after = std::chrono::milliseconds{*after};
  }
  out = std::move(decoded);
  return {};
}

namespace {

void pack_member(MsgpackWriter& writer, std::string_view key, std::int64_t number) {
  pack_string(writer, key);
  writer.packer.pack_int64(number);
}

void pack_error(MsgpackWriter& writer, const Error& error) {
  writer.packer.pack_map(error.retry_after ? 3U : 2U);
  pack_string(writer, "code");
  pack_string(writer, to_string(error.code));
  pack_string(writer, "message");
  pack_string(writer, error.message);
  if (error.retry_after)
    pack_member(writer, "retry_after_ms", error.retry_after->count());
}

} // namespace

std::vector<std::uint8_t> encode_outcome(const ItemOutcome& outcome) {
  MsgpackWriter writer;
  pack_outcome(writer, outcome);
  return writer.bytes();
}

// Written member by member rather than through a Map Value (one allocation per member, and the
// item's value copied): a checkpoint store encodes every item a batch settles. The members go
// in the order a Map keeps them, by name, so the bytes are the same as when the outcome was a
// Map (encode_error's for the error's).
void pack_outcome(MsgpackWriter& writer, const ItemOutcome& outcome) {
  const bool ok = outcome.ok();
  writer.packer.pack_map(outcome.ran_on.empty() ? 6U : 7U);
  pack_member(writer, "attempts", outcome.attempts);
  if (!ok) {
    pack_string(writer, "error");
    pack_error(writer, std::get<1>(outcome.result));
  }
  pack_member(writer, "index", Value(outcome.index).as_int()); // as a Value checks its range
  pack_member(writer, "latency_us", outcome.latency.count());
  pack_string(writer, "ok");
  if (ok)
    writer.packer.pack_true();
  else
    writer.packer.pack_false();
  if (!outcome.ran_on.empty()) {
    pack_string(writer, "ran_on");
    pack_string(writer, outcome.ran_on.str());
  }
  pack_member(writer, "tokens", outcome.tokens);
  if (ok) {
    pack_string(writer, "value");
    pack_value(writer, std::get<0>(outcome.result));
  }
}

Result<ItemOutcome> decode_outcome(std::span<const std::uint8_t> bytes) {
  constexpr std::string_view what = "item outcome";
  Result<Value> decoded = from_msgpack(bytes);
  if (!decoded)
    return decoded.error();
  Value& map = *decoded;
  if (!map.is_map())
    return Error{Errc::bad_input, "item outcome: not a msgpack map"};

  ItemOutcome outcome;
  Result<std::int64_t> index = int_member(map, "index", what);
  Result<std::int64_t> attempts = int_member(map, "attempts", what);
  Result<std::int64_t> latency = int_member(map, "latency_us", what);
  Result<std::int64_t> tokens = int_member(map, "tokens", what);
  Result<const Value*> ok = member(map, "ok", ValueType::boolean, what);
  for (const Result<std::int64_t>* number : {&index, &attempts, &latency, &tokens})
    if (!*number)
      return number->error();
  if (!ok)
    return ok.error();
  if (*index < 0 || *attempts < 0 || *attempts > std::numeric_limits<std::uint32_t>::max())
    return Error{Errc::bad_input, "item outcome: 'index' or 'attempts' is out of range"};
  outcome.index = static_cast<std::size_t>(*index);
  outcome.attempts = static_cast<std::uint32_t>(*attempts);
  outcome.latency = std::chrono::microseconds{*latency};
  outcome.tokens = *tokens;
  if (const Value* worker = map.find("ran_on"); worker != nullptr && worker->is_string())
    outcome.ran_on = NodeAddress(worker->as_string());

  if ((*ok)->as_bool()) {
    Map& members = map.as_map();
    const auto value = members.find("value");
    if (value == members.end())
      return Error{Errc::bad_input, "item outcome: 'value' is missing"};
    outcome.result.emplace<0>(std::move(value->second));
    return outcome;
  }
  Result<const Value*> error = member(map, "error", ValueType::map, what);
  if (!error)
    return error.error();
  Error stored;
  if (auto read = decode_error(**error, "item outcome: error", stored); !read)
    return read.error();
  outcome.result.emplace<1>(std::move(stored));
  return outcome;
}

} // namespace actorflow::detail
