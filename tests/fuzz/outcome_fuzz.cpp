// An item's outcome as a checkpoint store keeps it and a cluster node sends it back: what
// decodes re-encodes to bytes that decode to the same bytes again.
#include "core/outcome_codec.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  auto outcome = detail::decode_outcome({data, size});
  if (!outcome)
    return 0;
  const auto bytes = detail::encode_outcome(*outcome);
  auto again = detail::decode_outcome(bytes);
  FUZZ_REQUIRE(again.ok());
  FUZZ_REQUIRE(detail::encode_outcome(*again) == bytes);
  return 0;
}
