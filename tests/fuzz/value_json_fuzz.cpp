// Value from JSON (tool arguments, structured outputs, state files): what decodes re-encodes
// to text that decodes to the same text again.
#include <actorflow/value.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  auto value = from_json(fuzz::text(data, size));
  if (!value)
    return 0;
  const auto text = to_json(*value);
  auto again = from_json(text);
  FUZZ_REQUIRE(again.ok());
  FUZZ_REQUIRE(to_json(*again) == text);
  return 0;
}
