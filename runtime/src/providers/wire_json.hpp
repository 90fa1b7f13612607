#pragma once
// The JSON helpers of the wire code (openai_wire.cpp, chat_wire.cpp): parsing with errors
// that name the bad field, and the usage object both directions share.

#include <actorflow/chat.hpp>
#include <actorflow/result.hpp>

#include "core/nesting.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace actorflow::wire {

using json = nlohmann::json;

/// JSON text for the wire. Invalid UTF-8 in a prompt (text cut mid-character, a binary file)
/// becomes U+FFFD instead of an exception: nlohmann's strict default would throw from inside
/// a provider call and surface as an `internal` error.
[[nodiscard]] std::string to_wire(const json& body);
/// Where a bad field is, as "choices[0].message.content".
[[nodiscard]] std::string field(std::string_view parent, std::string_view name);
[[nodiscard]] std::string indexed(std::string_view parent, std::size_t i);
/// Parses `body` as a JSON object, or says why it is not one (with code `code`).
[[nodiscard]] Result<json> parse(std::string_view body, Errc code);
/// A failure naming `where` and what it should have been.
[[nodiscard]] Error bad(Errc code, const std::string& where, std::string_view what);
/// The member `name` of `object`, or null when absent or JSON null.
[[nodiscard]] const json* member(const json& object, const char* name);
[[nodiscard]] std::uint64_t count_or_zero(const json& object, const char* name);
/// A usage object, with prompt_tokens_details.cached_tokens.
[[nodiscard]] Usage decode_usage(const json& object);
[[nodiscard]] json encode_usage(const Usage& usage);

} // namespace actorflow::wire
