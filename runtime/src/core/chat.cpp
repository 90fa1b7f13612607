#include <actorflow/chat.hpp>

#include <algorithm>

namespace actorflow {

ContentPart ContentPart::of_text(std::string text) { return {Kind::text, std::move(text), {}, {}}; }

ContentPart ContentPart::image(std::string url, std::string detail) {
  return {Kind::image_url, {}, std::move(url), std::move(detail)};
}

ChatMessage ChatMessage::system(std::string text) { return {"system", std::move(text)}; }

ChatMessage ChatMessage::user(std::string text) { return {"user", std::move(text)}; }

ChatMessage ChatMessage::assistant(std::string text, std::vector<ToolCall> calls) {
  ChatMessage m{"assistant", std::move(text)};
  m.tool_calls = std::move(calls);
  return m;
}

ChatMessage ChatMessage::tool_result(std::string call_id, std::string tool_name, std::string text) {
  ChatMessage m{"tool", std::move(text)};
  m.tool_call_id = std::move(call_id);
  m.name = std::move(tool_name);
  return m;
}

std::string ChatMessage::text() const {
  if (parts.empty())
    return content;
  std::string out;
  for (const auto& part : parts) {
    if (part.kind != ContentPart::Kind::text)
      continue;
    if (!out.empty())
      out += '\n';
    out += part.text;
  }
  return out;
}

ChatRequest ChatRequest::user(std::string content) {
  ChatRequest request;
  request.messages.push_back(ChatMessage::user(std::move(content)));
  return request;
}

std::string ChatRequest::prompt() const {
  if (messages.empty())
    return {};
  auto it = std::find_if(messages.rbegin(), messages.rend(),
                         [](const ChatMessage& m) { return m.role == "user"; });
  return it != messages.rend() ? it->text() : messages.back().text();
}

bool RateLimitInfo::empty() const noexcept { return *this == RateLimitInfo{}; }

// -- transcripts as Values ----------------------------------------------------------------------

Value to_value(const ChatMessage& m) {
  Map out{{"role", Value(m.role)}, {"content", Value(m.content)}};
  if (!m.parts.empty()) {
    Array parts;
    for (const auto& p : m.parts)
      parts.push_back(
          p.kind == ContentPart::Kind::text
              ? Value::object({{"type", "text"}, {"text", Value(p.text)}})
              : Value::object(
                    {{"type", "image_url"}, {"url", Value(p.url)}, {"detail", Value(p.detail)}}));
    out.emplace("parts", Value(std::move(parts)));
  }
  if (!m.tool_calls.empty()) {
    Array calls;
    for (const auto& c : m.tool_calls)
      calls.push_back(Value::object(
          {{"id", Value(c.id)}, {"name", Value(c.name)}, {"arguments", Value(c.arguments)}}));
    out.emplace("tool_calls", Value(std::move(calls)));
  }
  if (!m.tool_call_id.empty())
    out.emplace("tool_call_id", Value(m.tool_call_id));
  if (!m.name.empty())
    out.emplace("name", Value(m.name));
  return Value(std::move(out));
}

Value to_value(const std::vector<ChatMessage>& messages) {
  Array out;
  out.reserve(messages.size());
  for (const auto& m : messages)
    out.push_back(to_value(m));
  return Value(std::move(out));
}

namespace {

/// The string member `key` of map `v` ("" when absent); `where` names `v` for the error.
Result<std::string> text_member(const Value& v, std::string_view key, const std::string& where) {
  const Value* found = v.find(key);
  if (found == nullptr || found->is_null())
    return std::string();
  if (!found->is_string())
    return Error{Errc::bad_input, where + "." + std::string(key) + ": expected a string"};
  return found->as_string();
}

Result<ChatMessage> message_at(const Value& v, const std::string& where) {
  if (!v.is_map())
    return Error{Errc::bad_input, where + ": expected a map"};
  ChatMessage m;
  for (auto [key, slot] :
       {std::pair{"role", &m.role}, std::pair{"content", &m.content},
        std::pair{"tool_call_id", &m.tool_call_id}, std::pair{"name", &m.name}}) {
    auto text = text_member(v, key, where);
    if (!text)
      return text.error();
    *slot = std::move(*text);
  }
  if (m.role.empty())
    return Error{Errc::bad_input, where + ".role: missing"};
  if (const Value* parts = v.find("parts"); parts && parts->is_array()) {
    for (std::size_t i = 0; i < parts->as_array().size(); ++i) {
      const auto& p = parts->as_array()[i];
      auto at = where + ".parts[" + std::to_string(i) + "]";
      auto type = text_member(p, "type", at);
      if (!type || !p.is_map())
        return Error{Errc::bad_input, at + ": expected a map with a type"};
      if (*type == "image_url") {
        auto url = text_member(p, "url", at);
        auto detail = text_member(p, "detail", at);
        if (!url || !detail)
          return Error{Errc::bad_input, at + ": url and detail must be strings"};
        m.parts.push_back(ContentPart::image(std::move(*url), std::move(*detail)));
      } else {
        auto text = text_member(p, "text", at);
        if (!text)
          return text.error();
        m.parts.push_back(ContentPart::of_text(std::move(*text)));
      }
    }
  }
  if (const Value* calls = v.find("tool_calls"); calls && calls->is_array()) {
    for (std::size_t i = 0; i < calls->as_array().size(); ++i) {
      const auto& c = calls->as_array()[i];
      auto at = where + ".tool_calls[" + std::to_string(i) + "]";
      ToolCall call;
      for (auto [key, slot] : {std::pair{"id", &call.id}, std::pair{"name", &call.name},
                               std::pair{"arguments", &call.arguments}}) {
        auto text = c.is_map()
                        ? text_member(c, key, at)
                        : Result<std::string>(Error{Errc::bad_input, at + ": expected a map"});
        if (!text)
          return text.error();
        *slot = std::move(*text);
      }
      m.tool_calls.push_back(std::move(call));
    }
  }
  return m;
}

} // namespace

Result<ChatMessage> message_from_value(const Value& value) { return message_at(value, "$"); }

Result<std::vector<ChatMessage>> messages_from_value(const Value& value) {
  if (!value.is_array())
    return Error{Errc::bad_input, "$: expected an array of messages"};
  std::vector<ChatMessage> out;
  for (std::size_t i = 0; i < value.as_array().size(); ++i) {
    auto m = message_at(value.as_array()[i], "$[" + std::to_string(i) + "]");
    if (!m)
      return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

} // namespace actorflow
