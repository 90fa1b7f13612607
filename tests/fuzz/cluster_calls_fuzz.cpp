// A launch's model calls as a cluster node sends them back with its outcome: their usage and
// each call. Bytes that do not decode count as nothing; what decodes re-encodes to bytes that
// decode to the same bytes again.
#include <actorflow/events.hpp>
#include <actorflow/run_result.hpp>

#include "actors/cluster/call_wire.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  const std::vector<char> bytes(data, data + size);
  const auto calls = actors::decode_calls(bytes);
  const auto encoded = actors::encode_calls(calls.usage, calls.calls);
  const auto again = actors::decode_calls(encoded);
  FUZZ_REQUIRE(actors::encode_calls(again.usage, again.calls) == encoded);
  FUZZ_REQUIRE(again.calls.size() == calls.calls.size());
  return 0;
}
