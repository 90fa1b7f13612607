// What an MCP server sends: JSON-RPC texts, bare or as server-sent events, each message
// classified as the client would, answers read as tools/list pages and tools/call results.
#include "fuzz_support.hpp"
#include "mcp/jsonrpc.hpp"

namespace {

void take(std::string_view text) {
  using namespace actorflow::mcp;
  auto messages = parse_messages(text);
  if (!messages)
    return;
  for (const auto& message : *messages) {
    const Incoming in = classify(message);
    if (in.kind == Incoming::Kind::request)
      (void)in.reply.dump(); // what goes back to the server must encode
    if (in.kind != Incoming::Kind::answer || !in.result || !in.result->ok())
      continue;
    (void)tool_value(**in.result);
    (void)decode_tool_page(**in.result);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = actorflow::fuzz::text(data, size);
  take(text);
  for (const auto& event : actorflow::mcp::sse_data(text))
    take(event);
  return 0;
}
