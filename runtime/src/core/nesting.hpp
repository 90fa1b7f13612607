#pragma once
// How deep arrays and objects may nest in anything decoded from outside: Value's msgpack and
// JSON, and every JSON text a server or peer sends (the model wire, MCP). Value's destructor
// and encoders recurse, so unbounded nesting would only move a crash elsewhere; and nlohmann's
// parser has no limit of its own (a million '[' build a tree of 80 MiB). Internal.

#include <cstddef>
#include <string_view>

namespace actorflow::detail {

inline constexpr std::size_t max_nesting = 256;

/// True when `text` nests arrays and objects deeper than max_nesting (brackets inside strings
/// do not count). A linear scan, made before a JSON parser sees the text.
[[nodiscard]] bool json_too_deep(std::string_view text);

} // namespace actorflow::detail
