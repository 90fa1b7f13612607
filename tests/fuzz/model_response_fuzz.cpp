// What a model server answers, client side: chat completions (text, tool calls, usage) and
// embeddings, and error bodies. A chat response that decodes survives the server-side
// encoder and the decoder unchanged.
#include "fuzz_support.hpp"
#include "providers/openai_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  const auto body = fuzz::text(data, size);
  (void)wire::decode_error_message(body);
  if (auto chat = wire::decode_chat_response(body)) {
    auto again = wire::decode_chat_response(wire::encode_chat_response(*chat, "chatcmpl-1", 0));
    FUZZ_REQUIRE(again.ok());
    FUZZ_REQUIRE(again->text == chat->text);
    FUZZ_REQUIRE(again->tool_calls == chat->tool_calls);
    FUZZ_REQUIRE(again->finish_reason == chat->finish_reason);
  }
  for (std::size_t expected : {std::size_t{1}, std::size_t{2}})
    if (auto embeddings = wire::decode_embed_response(body, expected)) {
      FUZZ_REQUIRE(embeddings->vectors.size() == expected);
      auto again = wire::decode_embed_response(wire::encode_embed_response(*embeddings), expected);
      FUZZ_REQUIRE(again.ok());
      FUZZ_REQUIRE(again->vectors == embeddings->vectors);
    }
  return 0;
}
