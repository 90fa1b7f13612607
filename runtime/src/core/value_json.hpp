#pragma once
// Value <-> nlohmann::json trees, for code that builds or reads JSON documents around Values
// (the wire formats, JSON Schema validation). Internal: nlohmann stays out of public headers.

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <nlohmann/json.hpp>

namespace actorflow::detail {

/// Binary becomes base64 text and non-finite doubles null, as in `to_json`.
[[nodiscard]] nlohmann::json to_nlohmann(const Value& value);
/// With the same depth limit as `from_json`; numbers above INT64_MAX become doubles.
[[nodiscard]] Result<Value> from_nlohmann(const nlohmann::json& json);

} // namespace actorflow::detail
