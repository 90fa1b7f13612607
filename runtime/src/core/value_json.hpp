#pragma once
// Value <-> nlohmann::json trees, for code that builds or reads JSON documents around Values
// (the wire formats, JSON Schema validation). Internal: nlohmann stays out of public headers.

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

namespace actorflow::detail {

/// How deep arrays and objects may nest in anything decoded from outside: Value's msgpack and
/// JSON, and every JSON text a server or peer sends (the model wire, MCP).
inline constexpr std::size_t max_nesting = 256;

/// True when `text` nests arrays and objects deeper than max_nesting (brackets inside strings
/// do not count). A linear scan to make before nlohmann's parser, which has no depth limit:
/// a million '[' would otherwise build a tree of 80 MiB.
[[nodiscard]] bool json_too_deep(std::string_view text);

/// Binary becomes base64 text and non-finite doubles null, as in `to_json`.
[[nodiscard]] nlohmann::json to_nlohmann(const Value& value);
/// With the same depth limit as `from_json`; numbers above INT64_MAX become doubles.
[[nodiscard]] Result<Value> from_nlohmann(const nlohmann::json& json);

} // namespace actorflow::detail
