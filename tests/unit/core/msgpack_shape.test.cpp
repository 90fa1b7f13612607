// The walk over a msgpack object's headers that runs before msgpack-c (core/msgpack_shape):
// for every type byte it agrees with msgpack-c on whole objects and on every truncation, and
// it refuses, without allocating, the nesting that made msgpack-c reserve gigabytes.
#include "core/msgpack_shape.hpp"

#include <actorflow/value.hpp>

#include "core/nesting.hpp"

#include <doctest/doctest.h>
#include <msgpack.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace actorflow;

namespace {

using Bytes = std::vector<std::uint8_t>;

// Big-endian `n` in `width` bytes.
void put(Bytes& out, std::uint64_t n, std::size_t width) {
  for (std::size_t i = width; i-- > 0;)
    out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
}

// The smallest whole object of type byte `type` with one element or one byte of payload
// (0xc1 gets no payload: the format never uses it).
Bytes smallest(std::uint8_t type) {
  Bytes out{type};
  const auto pow2 = [](int exponent) { return std::size_t{1} << exponent; };
  if (type >= 0x81 && type <= 0x8f) {
    out.insert(out.end(), 2u * (type & 0x0fu), 0x00);
  } else if (type >= 0x91 && type <= 0x9f) {
    out.insert(out.end(), type & 0x0fu, 0x00);
  } else if (type >= 0xa1 && type <= 0xbf) {
    out.insert(out.end(), type & 0x1fu, 'a');
  } else if (type >= 0xc4 && type <= 0xc6) { // bin: a length, the bytes
    put(out, 1, pow2(type - 0xc4));
    out.push_back('x');
  } else if (type >= 0xc7 && type <= 0xc9) { // ext: a length, a type, the bytes
    put(out, 1, pow2(type - 0xc7));
    out.insert(out.end(), {1, 'x'});
  } else if (type == 0xca || type == 0xcb) {
    out.insert(out.end(), type == 0xca ? 4 : 8, 0x00);
  } else if (type >= 0xcc && type <= 0xd3) {
    out.insert(out.end(), pow2((type - 0xcc) % 4), 0x00);
  } else if (type >= 0xd4 && type <= 0xd8) { // fixext: a type, the bytes
    out.push_back(1);
    out.insert(out.end(), pow2(type - 0xd4), 0x00);
  } else if (type >= 0xd9 && type <= 0xdb) {
    put(out, 1, pow2(type - 0xd9));
    out.push_back('a');
  } else if (type == 0xdc || type == 0xdd) {
    put(out, 1, type == 0xdc ? 2 : 4);
    out.push_back(0x00);
  } else if (type == 0xde || type == 0xdf) {
    put(out, 1, type == 0xde ? 2 : 4);
    out.insert(out.end(), {0x00, 0x00});
  }
  return out;
}

bool msgpack_c_accepts(const Bytes& bytes) {
  try {
    std::size_t used = 0;
    (void)msgpack::unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size(), used);
    return used == bytes.size();
  } catch (const std::exception&) {
    return false;
  }
}

std::string problem(const Bytes& bytes, std::size_t& end) {
  return detail::msgpack_shape_problem(bytes, detail::max_nesting, end);
}

// `levels` array32 headers, each claiming `claim` elements, and nothing else.
Bytes nested_array32(std::size_t levels, std::uint32_t claim) {
  Bytes out;
  for (std::size_t i = 0; i < levels; ++i) {
    out.push_back(0xdd);
    put(out, claim, 4);
  }
  return out;
}

} // namespace

TEST_CASE("for every type byte, the walk and msgpack-c agree on whole and cut objects") {
  for (int t = 0; t <= 0xff; ++t) {
    const auto type = static_cast<std::uint8_t>(t);
    CAPTURE(t);
    const Bytes whole = smallest(type);
    std::size_t end = 0;
    const bool walk_accepts = problem(whole, end).empty();
    CHECK(walk_accepts == msgpack_c_accepts(whole));
    CHECK(walk_accepts == (type != 0xc1));
    if (walk_accepts)
      CHECK(end == whole.size());
    for (std::size_t cut = 1; cut < whole.size(); ++cut) {
      CAPTURE(cut);
      const Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
      CHECK_FALSE(problem(part, end).empty());
      CHECK_FALSE(msgpack_c_accepts(part));
    }
  }
}

TEST_CASE("the walk stops at the end of the first object") {
  Bytes two = smallest(0x92); // [0, 0]
  two.push_back(0x2a);
  std::size_t end = 0;
  REQUIRE(problem(two, end).empty());
  CHECK(end == 3);
}

TEST_CASE("nested array32 headers claiming the whole input are refused by the walk") {
  // 255 levels claiming about as many elements as the 1 MiB input has bytes: msgpack-c's
  // per-header limit let each level reserve 24 bytes per element (8 GiB in all).
  Bytes bomb = nested_array32(255, 1u << 20);
  bomb.resize(std::size_t{1} << 20, 0xc0);
  std::size_t end = 0;
  const std::string why = problem(bomb, end);
  CHECK(why.find("truncated") != std::string::npos);
  auto decoded = from_msgpack(bomb);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().message.find(why) != std::string::npos); // the walk's, not msgpack-c's
  // The same shape, honest: every claimed element is there.
  Bytes honest = nested_array32(3, 1);
  honest.push_back(0x2a);
  auto ok = from_msgpack(honest);
  REQUIRE_MESSAGE(ok.ok(), ok.error().to_string());
  CHECK(ok->as_array()[0].as_array()[0].as_array()[0].as_int() == 42);
}

TEST_CASE("containers 256 deep pass, 257 deep are refused, empty ones too") {
  Bytes deep(255, 0x91); // fixarray of one, 255 times
  deep.push_back(0x90);  // and an empty one: 256 levels
  std::size_t end = 0;
  CHECK(problem(deep, end).empty());
  deep.insert(deep.begin(), 0x91); // 257
  CHECK(problem(deep, end).find("nesting deeper than 256 levels") != std::string::npos);
  auto decoded = from_msgpack(deep);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().message.find("nesting deeper than 256 levels") != std::string::npos);
}
