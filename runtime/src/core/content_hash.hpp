#pragma once
/// The content hash of the ingestion code: 128-bit FNV-1a, as 32 lowercase hex digits. Used by
/// `IngestItem::content_hash` (the docstore's change detection) and by the pipeline's cache keys
/// (the hash of a batch's msgpack bytes). Stable across platforms, builds and runs; not a
/// cryptographic hash.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace actorflow::detail {

/// 64-bit FNV-1a of `bytes`: a quick stable hash for choices that must repeat exactly (the
/// local model's tool-call ids, which answers it breaks on purpose).
[[nodiscard]] inline std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

/// FNV-1a with 128-bit state (the FNV authors' parameters), written out on two 64-bit halves so
/// that it needs no compiler extension and gives the same digest everywhere. Feed it bytes with
/// `add` (in pieces or at once: the digest is the same), then read `hex`.
class Fnv1a128 {
public:
  void add(std::string_view bytes) {
    for (char byte : bytes)
      add_byte(static_cast<unsigned char>(byte));
  }
  void add(std::span<const std::uint8_t> bytes) {
    for (std::uint8_t byte : bytes)
      add_byte(byte);
  }

  /// The digest of everything added so far: 32 lowercase hex digits, high half first.
  [[nodiscard]] std::string hex() const {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out(32, '0');
    for (int i = 0; i < 16; ++i) {
      out[static_cast<std::size_t>(15 - i)] = digits[(hi_ >> (4 * i)) & 0xFU];
      out[static_cast<std::size_t>(31 - i)] = digits[(lo_ >> (4 * i)) & 0xFU];
    }
    return out;
  }

private:
  void add_byte(std::uint8_t byte) {
    lo_ ^= byte;
    multiply_by_prime();
  }

  // state *= 2^88 + 0x13b (mod 2^128). 2^88 moves lo into hi (shifted by 24); the small factor
  // needs the high half of lo's 128-bit product, summed from lo's 32-bit halves (each product
  // is below 2^41, so the sum cannot overflow).
  void multiply_by_prime() {
    constexpr std::uint64_t small = 0x13b;
    const std::uint64_t carry =
        ((lo_ >> 32U) * small + (((lo_ & 0xFFFFFFFFU) * small) >> 32U)) >> 32U;
    hi_ = hi_ * small + carry + (lo_ << 24U);
    lo_ *= small;
  }

  std::uint64_t hi_ = 0x6c62272e07bb0142ULL; // offset basis 0x6c62272e07bb014262b821756295c58d
  std::uint64_t lo_ = 0x62b821756295c58dULL;
};

/// The 128-bit FNV-1a digest of `bytes`.
inline std::string content_hash(std::string_view bytes) {
  Fnv1a128 hash;
  hash.add(bytes);
  return hash.hex();
}
inline std::string content_hash(std::span<const std::uint8_t> bytes) {
  Fnv1a128 hash;
  hash.add(bytes);
  return hash.hex();
}

} // namespace actorflow::detail
