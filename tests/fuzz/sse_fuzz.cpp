// A streamed chat answer (server-sent events). However the bytes are cut into reads, the
// decoder ends the same way: the first two input bytes choose the cut, the rest is the stream.
#include "fuzz_support.hpp"
#include "providers/openai_wire.hpp"

#include <string>

namespace {

struct Ending {
  bool fed = false; // every feed succeeded
  std::string pieces;
  std::optional<actorflow::ChatResponse> response;
};

Ending decode(std::string_view stream, std::size_t cut) {
  actorflow::wire::ChatStreamDecoder decoder;
  Ending out;
  auto on_piece = [&](std::string_view piece) { out.pieces += piece; };
  out.fed = decoder.feed(stream.substr(0, cut), on_piece).ok() &&
            decoder.feed(stream.substr(cut), on_piece).ok();
  if (auto r = decoder.finish())
    out.response = std::move(*r);
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  if (size < 2)
    return 0;
  const auto stream = fuzz::text(data + 2, size - 2);
  const std::size_t cut = (std::size_t{data[0]} << 8 | data[1]) % (stream.size() + 1);
  const Ending whole = decode(stream, stream.size());
  const Ending split = decode(stream, cut);
  FUZZ_REQUIRE(whole.fed == split.fed);
  FUZZ_REQUIRE(whole.pieces == split.pieces);
  FUZZ_REQUIRE(whole.response.has_value() == split.response.has_value());
  if (whole.response) {
    FUZZ_REQUIRE(whole.response->text == split.response->text);
    FUZZ_REQUIRE(whole.response->tool_calls == split.response->tool_calls);
  }
  return 0;
}
