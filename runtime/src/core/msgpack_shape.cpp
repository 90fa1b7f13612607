#include "core/msgpack_shape.hpp"

#include "core/nesting.hpp"

#include <algorithm>
#include <array>

namespace actorflow::detail {

namespace {

// Reads a big-endian unsigned of `n` bytes at `at`; false when the input ends first.
bool read_be(std::span<const std::uint8_t> bytes, std::size_t& at, std::size_t n,
             std::uint64_t& out) {
  if (bytes.size() - at < n)
    return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i)
    out = (out << 8) | bytes[at + i];
  at += n;
  return true;
}

constexpr std::size_t deepest = 256; // the most max_depth the walk's stack allows
static_assert(deepest >= max_nesting, "the walk must reach the decoders' depth limit");
constexpr const char* truncated = "truncated input: it ends inside an object";

} // namespace

std::string msgpack_shape_problem(std::span<const std::uint8_t> bytes, std::size_t max_depth,
                                  std::size_t& end) {
  max_depth = std::min(max_depth, deepest);
  // Elements still to read in each open container; the bottom one is the object itself. On
  // the stack: this runs before every decode, and must not allocate.
  std::array<std::uint64_t, deepest + 1> open{1};
  std::size_t depth = 1; // entries of `open` in use
  std::size_t at = 0;
  while (depth > 0) {
    if (open[depth - 1] == 0) {
      --depth;
      continue;
    }
    --open[depth - 1];
    if (at >= bytes.size())
      return truncated;
    const std::uint8_t type = bytes[at++];
    std::uint64_t skip = 0;     // payload bytes after the header
    std::uint64_t elements = 0; // a container's elements (a map's keys and values)
    bool container = false;
    std::uint64_t n = 0;
    if (type <= 0x7f || type >= 0xe0 || type == 0xc0 || type == 0xc2 || type == 0xc3) {
      // fixint, nil, bool: the byte is the object
    } else if (type <= 0x8f) {
      container = true;
      elements = 2u * (type & 0x0fu);
    } else if (type <= 0x9f) {
      container = true;
      elements = type & 0x0fu;
    } else if (type <= 0xbf) {
      skip = type & 0x1fu;
    } else if (type == 0xc1) {
      return "invalid msgpack type byte 0xc1 (one the format never uses)";
    } else if (type <= 0xc6) { // bin 8, 16, 32
      if (!read_be(bytes, at, std::size_t{1} << (type - 0xc4), n))
        return truncated;
      skip = n;
    } else if (type <= 0xc9) { // ext 8, 16, 32: a length, a type byte, the data
      if (!read_be(bytes, at, std::size_t{1} << (type - 0xc7), n))
        return truncated;
      skip = n + 1;
    } else if (type <= 0xcb) { // float 32, 64
      skip = type == 0xca ? 4 : 8;
    } else if (type <= 0xd3) { // uint and int of 8, 16, 32, 64 bits
      skip = std::uint64_t{1} << ((type - 0xcc) % 4);
    } else if (type <= 0xd8) { // fixext 1, 2, 4, 8, 16: a type byte, the data
      skip = 1 + (std::uint64_t{1} << (type - 0xd4));
    } else if (type <= 0xdb) { // str 8, 16, 32
      if (!read_be(bytes, at, std::size_t{1} << (type - 0xd9), n))
        return truncated;
      skip = n;
    } else { // array 16, 32 (0xdc, 0xdd); map 16, 32 (0xde, 0xdf)
      if (!read_be(bytes, at, (type & 1u) ? 4 : 2, n))
        return truncated;
      container = true;
      elements = type >= 0xde ? 2 * n : n;
    }
    if (skip > bytes.size() - at)
      return truncated;
    at += skip;
    if (!container)
      continue;
    if (depth > max_depth)
      return "nesting deeper than " + std::to_string(max_depth) + " levels";
    // Each element takes at least a byte: a header claiming more cannot be whole.
    if (elements > bytes.size() - at)
      return std::string("truncated or corrupt input: ") +
             (type >= 0xde || (type >= 0x80 && type <= 0x8f) ? "a map header announces more pairs"
                                                             : "an array header announces more "
                                                               "elements") +
             " than fit";
    open[depth++] = elements;
  }
  end = at;
  return {};
}

} // namespace actorflow::detail
