#include "mcp/jsonrpc.hpp"

#include "core/nesting.hpp"
#include "core/value_json.hpp"
#include "providers/sse_line.hpp"

namespace actorflow::mcp {

std::string text_of(const json& object, const char* key) {
  if (!object.is_object())
    return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> sse_data(std::string_view body) {
  std::vector<std::string> out;
  std::string data;
  bool any = false;
  while (!body.empty()) {
    auto end = body.find('\n');
    auto line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view{} : body.substr(end + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty()) {
      if (any)
        out.push_back(std::move(data));
      data.clear();
      any = false;
    } else {
      wire::add_sse_data(line, data, any);
    }
  }
  if (any)
    out.push_back(std::move(data));
  return out;
}

Result<std::vector<json>> parse_messages(std::string_view text) {
  auto doc = detail::json_too_deep(text) ? json(json::value_t::discarded)
                                         : json::parse(text, nullptr, false);
  if (doc.is_discarded() || !(doc.is_object() || doc.is_array()))
    return Error{Errc::bad_response, "the MCP server sent something that is not JSON-RPC: " +
                                         std::string(text.substr(0, 80))};
  std::vector<json> out;
  if (doc.is_array())
    for (auto& m : doc)
      out.push_back(std::move(m));
  else
    out.push_back(std::move(doc));
  return out;
}

Incoming classify(const json& m) {
  Incoming out;
  if (!m.is_object())
    return out;
  auto id = m.find("id");
  const bool is_answer = m.contains("result") || m.contains("error");
  if (id == m.end() || !is_answer) {
    // A request of the server: ping is answered; sampling, roots and elicitation are not
    // offered by this client. Notifications (progress, logging, list changes) need no answer.
    if (id != m.end() && m.contains("method")) {
      out.kind = Incoming::Kind::request;
      out.reply = {{"jsonrpc", "2.0"}, {"id", *id}};
      if (text_of(m, "method") == "ping")
        out.reply["result"] = json::object();
      else
        out.reply["error"] = {{"code", -32601}, {"message", "not supported by actorflow"}};
    }
    return out;
  }
  if (!id->is_number_unsigned())
    return out;
  out.kind = Incoming::Kind::answer;
  out.id = id->get<std::uint64_t>();
  if (auto error = m.find("error"); error != m.end()) {
    std::string message = text_of(*error, "message");
    if (message.empty())
      message = error->dump();
    auto code = error->is_object() && error->contains("code") ? (*error)["code"].dump() : "?";
    out.result = Error{Errc::bad_request, "MCP error " + code + ": " + message};
  } else {
    out.result = m["result"];
  }
  return out;
}

Result<Value> tool_value(const json& result) {
  if (!result.is_object())
    return Error{Errc::bad_response, "MCP tools/call: the result is not an object"};
  std::string text;
  if (auto content = result.find("content"); content != result.end() && content->is_array())
    for (const auto& part : *content) {
      if (!text.empty())
        text += '\n';
      auto type = text_of(part, "type");
      if (type == "text")
        text += text_of(part, "text");
      else
        text.append("[").append(type.empty() ? "part" : type).append("]");
    }
  auto is_error = result.find("isError");
  if (is_error != result.end() && is_error->is_boolean() && is_error->get<bool>())
    return Error{Errc::bad_request, text.empty() ? "the tool reported an error" : text};
  if (auto structured = result.find("structuredContent");
      structured != result.end() && !structured->is_null())
    return detail::from_nlohmann(*structured);
  return Value(text);
}

Result<ToolPage> decode_tool_page(const json& page) {
  if (!page.is_object())
    return Error{Errc::bad_response, "MCP tools/list: no tools array"};
  auto tools = page.find("tools");
  if (tools == page.end() || !tools->is_array())
    return Error{Errc::bad_response, "MCP tools/list: no tools array"};
  ToolPage out;
  for (const auto& t : *tools) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
      return Error{Errc::bad_response, "MCP tools/list: a tool without a name"};
    ListedTool tool{t["name"].get<std::string>(), text_of(t, "description"), Value()};
    if (auto schema = t.find("inputSchema"); schema != t.end() && schema->is_object()) {
      auto value = detail::from_nlohmann(*schema);
      if (!value)
        return Error{Errc::bad_response, "MCP tool '" + tool.name + "': " + value.error().message};
      tool.parameters = std::move(*value);
    }
    out.tools.push_back(std::move(tool));
  }
  if (auto next = page.find("nextCursor"); next != page.end() && next->is_string())
    out.next_cursor = next->get<std::string>();
  return out;
}

} // namespace actorflow::mcp
