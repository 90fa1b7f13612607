#pragma once
// msgpack bytes as CAF carries them between actors and processes: `std::vector<char>` is one of
// CAF's built-in types, so no type needs registering on either side, and bytes that do not
// decode are an error of whatever they were for, never a failure of CAF's deserialiser.

#include <actorflow/value.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace actorflow::actors {

/// msgpack bytes as CAF carries them.
[[nodiscard]] std::vector<char> wire_bytes(const std::vector<std::uint8_t>& bytes);
/// `value` packed as msgpack straight into the bytes CAF carries (one copy, not two).
[[nodiscard]] std::vector<char> to_wire(const Value& value);
/// The bytes CAF carried, to decode.
[[nodiscard]] std::span<const std::uint8_t> wire_view(const std::vector<char>& bytes);

} // namespace actorflow::actors
