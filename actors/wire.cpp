#include "actors/wire.hpp"

#include "core/msgpack_pack.hpp"

namespace actorflow::actors {

std::vector<char> wire_bytes(const std::vector<std::uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

std::vector<char> to_wire(const Value& value) {
  detail::MsgpackWriter writer;
  detail::pack_value(writer, value);
  return {writer.buffer.data(), writer.buffer.data() + writer.buffer.size()};
}

std::span<const std::uint8_t> wire_view(const std::vector<char>& bytes) {
  return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

} // namespace actorflow::actors
