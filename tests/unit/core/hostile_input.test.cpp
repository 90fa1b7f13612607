// Regressions of what a fuzz run found in the core's decoders of bytes from outside (peers,
// checkpoint stores): msgpack nesting that reserved gigabytes, node addresses interned without
// bound, and JSON nested without limit.
#include <actorflow/batch.hpp>
#include <actorflow/cluster.hpp>
#include <actorflow/value.hpp>

#include "core/outcome_codec.hpp"
#include "core/value_json.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace actorflow;

namespace {

using Bytes = std::vector<std::uint8_t>;

// `levels` array32 headers, each claiming `claim` elements, and nothing else.
Bytes nested_array32(std::size_t levels, std::uint32_t claim) {
  Bytes out;
  for (std::size_t i = 0; i < levels; ++i) {
    out.push_back(0xdd);
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<std::uint8_t>(claim >> shift));
  }
  return out;
}

} // namespace

TEST_CASE("nested array32 headers that claim the whole input are refused before unpacking") {
  // 255 levels claiming about as many elements as the 1 MiB input has bytes: msgpack-c's
  // per-header limit let each level reserve 24 bytes per element (8 GiB in all).
  Bytes bomb = nested_array32(255, 1u << 20);
  bomb.resize(std::size_t{1} << 20, 0xc0);
  auto decoded = from_msgpack(bomb);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().message.find("truncated") != std::string::npos);
  // The same shape, honest: every claimed element is there.
  Bytes honest = nested_array32(3, 1);
  honest.push_back(0x2a);
  auto ok = from_msgpack(honest);
  REQUIRE_MESSAGE(ok.ok(), ok.error().to_string());
  CHECK(ok->as_array()[0].as_array()[0].as_array()[0].as_int() == 42);
}

TEST_CASE("an empty array 257 levels deep is refused as too deep") {
  Bytes deep(256, 0x91); // fixarray of one, 256 times
  deep.push_back(0x90);  // and an empty one below
  auto decoded = from_msgpack(deep);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().message.find("nesting deeper than 256 levels") != std::string::npos);
}

TEST_CASE("outcomes from outside cannot grow the table of node addresses without bound") {
  // Many distinct, long ran_on values (a peer's or a checkpoint's) all become the overflow
  // once the table is full or the address is too long. This fills the process-wide table: no
  // other test of this binary uses node addresses.
  ItemOutcome outcome;
  outcome.index = 0;
  outcome.result = Value("ok");
  const std::string too_long(NodeAddress::max_bytes + 1, 'h');
  outcome.ran_on = NodeAddress(too_long);
  CHECK(outcome.ran_on == NodeAddress::overflow());
  CHECK(outcome.ran_on.str() == "(other node)");
  std::size_t overflowed = 0;
  for (std::size_t i = 0; i < NodeAddress::max_distinct + 100; ++i) {
    ItemOutcome sent;
    sent.result = Value("ok");
    sent.ran_on = NodeAddress("node-" + std::to_string(i) + ":7000");
    auto back = detail::decode_outcome(detail::encode_outcome(sent));
    REQUIRE(back.ok());
    overflowed += back->ran_on == NodeAddress::overflow() ? 1 : 0;
  }
  CHECK(overflowed >= 100);                                 // at least the addresses past the cap
  CHECK(NodeAddress("node-0:7000").str() == "node-0:7000"); // the first ones stay themselves
}

TEST_CASE("JSON nested deeper than 256 levels is found before any parser sees it") {
  CHECK_FALSE(detail::json_too_deep(std::string(256, '[') + std::string(256, ']')));
  CHECK(detail::json_too_deep(std::string(257, '[')));
  CHECK(detail::json_too_deep(std::string(1'000'000, '[')));
  // Brackets in strings, escaped quotes and all, do not count.
  CHECK_FALSE(detail::json_too_deep(R"(["\"[[[[", "]]]"])" + std::string(300, ' ')));
  std::string in_string = "[\"" + std::string(1000, '[') + "\"]";
  CHECK_FALSE(detail::json_too_deep(in_string));
  // Objects count as arrays do.
  std::string objects;
  for (int i = 0; i < 300; ++i)
    objects += R"({"a":)";
  CHECK(detail::json_too_deep(objects));
}
