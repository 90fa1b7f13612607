// What a client sends, server side (the sim's request path, and any OpenAI-compatible server
// built on the wire code): chat and embedding requests. A request that decodes is encoded as
// the client would send it and decodes to the same request.
#include "fuzz_support.hpp"
#include "providers/openai_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  const auto body = fuzz::text(data, size);
  if (auto call = wire::decode_chat_request(body)) {
    auto again = wire::decode_chat_request(
        wire::encode_chat_request(call->request, call->request.model, call->stream));
    FUZZ_REQUIRE(again.ok());
    FUZZ_REQUIRE(again->request.messages == call->request.messages);
    FUZZ_REQUIRE(again->request.max_tokens == call->request.max_tokens);
    FUZZ_REQUIRE(again->request.stop == call->request.stop);
    FUZZ_REQUIRE(again->stream == call->stream);
  }
  if (auto embed = wire::decode_embed_request(body)) {
    auto again = wire::decode_embed_request(wire::encode_embed_request(*embed, embed->model));
    FUZZ_REQUIRE(again.ok());
    FUZZ_REQUIRE(again->texts == embed->texts);
  }
  return 0;
}
