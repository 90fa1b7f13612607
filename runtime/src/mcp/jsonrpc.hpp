#pragma once
// What an MCP server sends, decoded without a connection: JSON-RPC texts (one message or a
// batch), a server-sent-event body of them, each message classified for the client, and the
// results of tools/list and tools/call. Everything here is pure, so that it can be fuzzed
// (tests/fuzz/mcp_jsonrpc_fuzz.cpp): a server's JSON is never trusted to have the types it
// should. Internal.

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::mcp {

using json = nlohmann::json;

/// Member `key` of `object` if it is a string, else "" (nlohmann's value() would throw).
[[nodiscard]] std::string text_of(const json& object, const char* key);

/// The data of each server-sent event of `body` (events end at a blank line; several "data:"
/// lines of one event join with newlines; lines end in LF or CRLF).
[[nodiscard]] std::vector<std::string> sse_data(std::string_view body);

/// The messages of one JSON-RPC text: an object, or the objects of a batch array. Not JSON,
/// nested too deep, or neither: bad_response quoting the start of the text.
[[nodiscard]] Result<std::vector<json>> parse_messages(std::string_view text);

/// One message of the server, as the client takes it.
struct Incoming {
  enum class Kind : std::uint8_t {
    answer,  ///< to the client's request `id`: `result` (or its error)
    request, ///< of the server: `reply` goes back (ping answered, the rest refused)
    other,   ///< a notification, or nothing the client can use
  };
  Kind kind = Kind::other;
  std::uint64_t id = 0;
  std::optional<Result<json>> result;
  json reply;
};
[[nodiscard]] Incoming classify(const json& message);

/// A tools/call result as the tool's value: structuredContent, else the text parts (joined by
/// newlines; other parts named by type). isError: the text as an error for the model.
[[nodiscard]] Result<Value> tool_value(const json& result);

/// A tool as tools/list describes it.
struct ListedTool {
  std::string name;
  std::string description;
  Value parameters; ///< its inputSchema; null when it has none
};
/// One page of tools/list, and the cursor of the next (none: the last page).
struct ToolPage {
  std::vector<ListedTool> tools;
  std::optional<std::string> next_cursor;
};
[[nodiscard]] Result<ToolPage> decode_tool_page(const json& page);

} // namespace actorflow::mcp
