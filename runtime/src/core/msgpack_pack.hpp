#pragma once
/// The msgpack encoder shared by value_codec.cpp and state.cpp, so that a State can be encoded
/// straight from its shared values instead of first deep-copying them into a map Value.

#include <actorflow/value.hpp>

#include <msgpack.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace actorflow::detail {

/// msgpack-c's packer and the buffer it appends to. The buffer is exposed because doubles are
/// written to it directly (see pack_value); the packer keeps no state of its own, so mixing
/// both is safe.
struct MsgpackWriter {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer{buffer};

  MsgpackWriter() = default;
  MsgpackWriter(const MsgpackWriter&) = delete; // the packer points at `buffer`
  MsgpackWriter& operator=(const MsgpackWriter&) = delete;

  /// The bytes written so far.
  [[nodiscard]] std::vector<std::uint8_t> bytes() const;
};

/// Appends `value`; throws `Failure` (bad_input) if a string, binary or container is longer
/// than msgpack's 32-bit lengths can describe.
void pack_value(MsgpackWriter& writer, const Value& value);
/// Appends a str object (same length check as `pack_value`).
void pack_string(MsgpackWriter& writer, std::string_view text);
/// `n` as a msgpack length; throws `Failure` (bad_input) naming `what` if it does not fit.
std::uint32_t msgpack_length(std::size_t n, std::string_view what);

} // namespace actorflow::detail
