#pragma once
// A walk over one msgpack object's headers, before msgpack-c unpacks it. msgpack-c reserves
// room for a container as soon as it reads its header; its limits apply per header, so 255
// nested array32 headers that each claim as many elements as the input has bytes would
// reserve 24 bytes per element per level (8 GiB of address space for a 1 MiB input). The walk
// allocates nothing: only an object that is whole, and no deeper than the limit, is unpacked,
// and then every element it claims is there, so msgpack-c reserves at most what the input
// holds. Internal.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace actorflow::detail {

/// Why the object at the start of `bytes` cannot be unpacked (a message for an Error, without
/// a "msgpack: " prefix), or "" when it is whole: every header's elements and bytes are there
/// and containers nest at most `max_depth` deep. `end` is set past the object when it is.
[[nodiscard]] std::string msgpack_shape_problem(std::span<const std::uint8_t> bytes,
                                                std::size_t max_depth, std::size_t& end);

} // namespace actorflow::detail
