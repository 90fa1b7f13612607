#pragma once
/// Base64 for the core only: JSON has no bytes, so binary values travel as base64 text.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace actorflow::detail {

/// Standard base64 (RFC 4648 section 4, with '=' padding).
inline std::string base64_encode(std::span<const std::uint8_t> bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = (std::uint32_t{bytes[i]} << 16) |
                                (std::uint32_t{bytes[i + 1]} << 8) | std::uint32_t{bytes[i + 2]};
    out += alphabet[(group >> 18) & 0x3f];
    out += alphabet[(group >> 12) & 0x3f];
    out += alphabet[(group >> 6) & 0x3f];
    out += alphabet[group & 0x3f];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t group = std::uint32_t{bytes[i]} << 16;
    if (rest == 2)
      group |= std::uint32_t{bytes[i + 1]} << 8;
    out += alphabet[(group >> 18) & 0x3f];
    out += alphabet[(group >> 12) & 0x3f];
    out += rest == 2 ? alphabet[(group >> 6) & 0x3f] : '=';
    out += '=';
  }
  return out;
}

} // namespace actorflow::detail
