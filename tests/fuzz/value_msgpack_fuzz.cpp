// Value from msgpack (checkpoint rows, cluster messages): what decodes re-encodes to bytes
// that decode to the same bytes again.
#include <actorflow/value.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  auto value = from_msgpack({data, size});
  if (!value)
    return 0;
  const auto bytes = to_msgpack(*value);
  auto again = from_msgpack(bytes);
  FUZZ_REQUIRE(again.ok());
  FUZZ_REQUIRE(to_msgpack(*again) == bytes); // bytes, not values: NaN != NaN
  return 0;
}
