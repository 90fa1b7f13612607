// Chat completions on the wire, both ways: requests with tools, tool choice, response formats
// and sampling options; answers with tool calls, refusals and cached-token usage. (Streams:
// chat_stream.cpp.)
#include "core/value_json.hpp"
#include "providers/openai_wire.hpp"
#include "providers/wire_json.hpp"

#include <algorithm>

namespace actorflow::wire {

namespace {

// -- encoding -----------------------------------------------------------------------------------

json encode_content(const ChatMessage& m) {
  if (m.parts.empty()) {
    // An assistant turn that only calls tools has no content: OpenAI sends null.
    if (m.content.empty() && !m.tool_calls.empty())
      return nullptr;
    return m.content;
  }
  json parts = json::array();
  for (const auto& part : m.parts) {
    if (part.kind == ContentPart::Kind::text) {
      parts.push_back({{"type", "text"}, {"text", part.text}});
    } else {
      json image = {{"url", part.url}};
      if (!part.detail.empty())
        image["detail"] = part.detail;
      parts.push_back({{"type", "image_url"}, {"image_url", std::move(image)}});
    }
  }
  return parts;
}

json encode_tool_calls(const std::vector<ToolCall>& calls) {
  json out = json::array();
  for (const auto& call : calls)
    out.push_back({{"id", call.id},
                   {"type", "function"},
                   {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
  return out;
}

json encode_message(const ChatMessage& m) {
  json out = {{"role", m.role}, {"content", encode_content(m)}};
  if (!m.tool_calls.empty())
    out["tool_calls"] = encode_tool_calls(m.tool_calls);
  if (!m.tool_call_id.empty())
    out["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty())
    out["name"] = m.name;
  return out;
}

json encode_tool(const ToolSpec& tool) {
  json function = {{"name", tool.name}, {"parameters", detail::to_nlohmann(tool.parameters)}};
  if (!tool.description.empty())
    function["description"] = tool.description;
  if (tool.strict)
    function["strict"] = true;
  return {{"type", "function"}, {"function", std::move(function)}};
}

json encode_tool_choice(const ToolChoice& choice) {
  switch (choice.mode) {
    case ToolChoice::Mode::none:
      return "none";
    case ToolChoice::Mode::required:
      return "required";
    case ToolChoice::Mode::function:
      return {{"type", "function"}, {"function", {{"name", choice.function}}}};
    case ToolChoice::Mode::automatic:
      break;
  }
  return "auto";
}

json encode_response_format(const ResponseFormat& format) {
  switch (format.type) {
    case ResponseFormat::Type::json_object:
      return {{"type", "json_object"}};
    case ResponseFormat::Type::json_schema:
      return {{"type", "json_schema"},
              {"json_schema",
               {{"name", format.name.empty() ? std::string("answer") : format.name},
                {"schema", detail::to_nlohmann(format.schema)},
                {"strict", format.strict}}}};
    case ResponseFormat::Type::text:
      break;
  }
  return {{"type", "text"}};
}

// -- decoding (errors name the field) -------------------------------------------------------

/// A string member, absent, or an error naming it.
Result<std::string> optional_string(const json& object, const char* name, const std::string& where,
                                    Errc code) {
  const json* v = member(object, name);
  if (!v)
    return std::string();
  if (!v->is_string())
    return bad(code, field(where, name), "expected a string");
  return v->get<std::string>();
}

Result<std::vector<ToolCall>> decode_tool_calls(const json& calls, const std::string& where,
                                                Errc code) {
  if (!calls.is_array())
    return bad(code, where, "expected an array");
  std::vector<ToolCall> out;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const json& c = calls[i];
    auto at = indexed(where, i);
    if (!c.is_object())
      return bad(code, at, "expected an object");
    const json* function = member(c, "function");
    if (!function || !function->is_object())
      return bad(code, field(at, "function"), "expected an object");
    ToolCall call;
    auto id = optional_string(c, "id", at, code);
    auto name = optional_string(*function, "name", field(at, "function"), code);
    if (!id)
      return std::move(id).error();
    if (!name)
      return std::move(name).error();
    if (name->empty())
      return bad(code, field(field(at, "function"), "name"), "missing");
    call.id = std::move(*id);
    call.name = std::move(*name);
    // Arguments are JSON text; some servers send an object instead: keep its text.
    if (const json* args = member(*function, "arguments"))
      call.arguments = args->is_string() ? args->get<std::string>() : to_wire(*args);
    out.push_back(std::move(call));
  }
  return out;
}

Result<std::vector<ContentPart>> decode_parts(const json& parts, const std::string& where) {
  std::vector<ContentPart> out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const json& p = parts[i];
    auto at = indexed(where, i);
    const json* type = p.is_object() ? member(p, "type") : nullptr;
    if (!type || !type->is_string())
      return bad(Errc::bad_request, field(at, "type"), "expected a string");
    if (*type == "text") {
      auto text = optional_string(p, "text", at, Errc::bad_request);
      if (!text)
        return std::move(text).error();
      out.push_back(ContentPart::of_text(std::move(*text)));
    } else if (*type == "image_url") {
      const json* image = member(p, "image_url");
      const json* url = image && image->is_object() ? member(*image, "url") : nullptr;
      if (!url || !url->is_string())
        return bad(Errc::bad_request, field(at, "image_url.url"), "expected a string");
      auto detail = optional_string(*image, "detail", field(at, "image_url"), Errc::bad_request);
      if (!detail)
        return std::move(detail).error();
      out.push_back(ContentPart::image(url->get<std::string>(), std::move(*detail)));
    } else {
      return bad(Errc::bad_request, field(at, "type"),
                 "expected \"text\" or \"image_url\", got \"" + type->get<std::string>() + "\"");
    }
  }
  return out;
}

Result<ChatMessage> decode_message(const json& m, const std::string& where) {
  if (!m.is_object())
    return bad(Errc::bad_request, where, "expected an object");
  const json* role = member(m, "role");
  if (!role || !role->is_string())
    return bad(Errc::bad_request, field(where, "role"), "expected a string");
  ChatMessage out{role->get<std::string>()};
  if (const json* calls = member(m, "tool_calls")) {
    auto decoded = decode_tool_calls(*calls, field(where, "tool_calls"), Errc::bad_request);
    if (!decoded)
      return std::move(decoded).error();
    out.tool_calls = std::move(*decoded);
  }
  const json* content = member(m, "content");
  if (content && content->is_string()) {
    out.content = content->get<std::string>();
  } else if (content && content->is_array()) {
    auto parts = decode_parts(*content, field(where, "content"));
    if (!parts)
      return std::move(parts).error();
    out.parts = std::move(*parts);
  } else if (content || out.tool_calls.empty()) {
    // Only an assistant message with tool calls may go without content.
    return bad(Errc::bad_request, field(where, "content"),
               "expected a string or an array of content parts");
  }
  auto id = optional_string(m, "tool_call_id", where, Errc::bad_request);
  auto name = optional_string(m, "name", where, Errc::bad_request);
  if (!id)
    return std::move(id).error();
  if (!name)
    return std::move(name).error();
  out.tool_call_id = std::move(*id);
  out.name = std::move(*name);
  if (out.role == "tool" && out.tool_call_id.empty())
    return bad(Errc::bad_request, field(where, "tool_call_id"), "missing on a tool message");
  return out;
}

Result<ToolSpec> decode_tool(const json& t, const std::string& where) {
  const json* type = t.is_object() ? member(t, "type") : nullptr;
  if (!type || *type != "function")
    return bad(Errc::bad_request, field(where, "type"), "expected \"function\"");
  const json* function = member(t, "function");
  if (!function || !function->is_object())
    return bad(Errc::bad_request, field(where, "function"), "expected an object");
  auto at = field(where, "function");
  ToolSpec out;
  auto name = optional_string(*function, "name", at, Errc::bad_request);
  auto description = optional_string(*function, "description", at, Errc::bad_request);
  if (!name)
    return std::move(name).error();
  if (!description)
    return std::move(description).error();
  if (name->empty())
    return bad(Errc::bad_request, field(at, "name"), "missing");
  out.name = std::move(*name);
  out.description = std::move(*description);
  if (const json* parameters = member(*function, "parameters")) {
    if (!parameters->is_object())
      return bad(Errc::bad_request, field(at, "parameters"), "expected a JSON Schema object");
    auto value = detail::from_nlohmann(*parameters);
    if (!value)
      return bad(Errc::bad_request, field(at, "parameters"), value.error().message);
    out.parameters = std::move(*value);
  }
  if (const json* strict = member(*function, "strict"); strict && strict->is_boolean())
    out.strict = strict->get<bool>();
  return out;
}

Result<ToolChoice> decode_tool_choice(const json& choice) {
  if (choice == "auto")
    return ToolChoice::automatic();
  if (choice == "none")
    return ToolChoice::none();
  if (choice == "required")
    return ToolChoice::required();
  if (choice.is_object())
    if (const json* function = member(choice, "function"); function && function->is_object())
      if (const json* name = member(*function, "name"); name && name->is_string())
        return ToolChoice::named(name->get<std::string>());
  return bad(Errc::bad_request, "tool_choice",
             "expected \"auto\", \"none\", \"required\" or {\"type\":\"function\",...}");
}

Result<ResponseFormat> decode_response_format(const json& format) {
  const json* type = format.is_object() ? member(format, "type") : nullptr;
  if (!type || !type->is_string())
    return bad(Errc::bad_request, "response_format.type", "expected a string");
  if (*type == "text")
    return ResponseFormat{};
  if (*type == "json_object")
    return ResponseFormat::json_object();
  if (*type != "json_schema")
    return bad(Errc::bad_request, "response_format.type",
               "expected \"text\", \"json_object\" or \"json_schema\"");
  const json* spec = member(format, "json_schema");
  const json* schema = spec && spec->is_object() ? member(*spec, "schema") : nullptr;
  if (!schema || !schema->is_object())
    return bad(Errc::bad_request, "response_format.json_schema.schema",
               "expected a JSON Schema object");
  auto value = detail::from_nlohmann(*schema);
  if (!value)
    return bad(Errc::bad_request, "response_format.json_schema.schema", value.error().message);
  std::string name;
  if (const json* n = member(*spec, "name"); n && n->is_string())
    name = n->get<std::string>();
  bool strict = false;
  if (const json* s = member(*spec, "strict"); s && s->is_boolean())
    strict = s->get<bool>();
  return ResponseFormat::json_schema(std::move(name), std::move(*value), strict);
}

/// The members of a request body that decode_chat_request reads itself; the rest are extra.
bool is_known_member(std::string_view key) {
  static constexpr std::string_view known[] = {"messages",
                                               "model",
                                               "max_tokens",
                                               "max_completion_tokens",
                                               "temperature",
                                               "top_p",
                                               "seed",
                                               "stop",
                                               "tools",
                                               "tool_choice",
                                               "parallel_tool_calls",
                                               "response_format",
                                               "stream",
                                               "stream_options"};
  return std::find(std::begin(known), std::end(known), key) != std::end(known);
}

} // namespace

// -- requests -----------------------------------------------------------------------------------

std::string encode_chat_request(const ChatRequest& request, std::string_view model, bool stream) {
  json messages = json::array();
  for (const auto& m : request.messages)
    messages.push_back(encode_message(m));
  json body = {{"model", request.model.empty() ? std::string(model) : request.model},
               {"messages", std::move(messages)}};
  if (request.max_tokens)
    body["max_tokens"] = *request.max_tokens;
  if (request.temperature)
    body["temperature"] = *request.temperature;
  if (request.top_p)
    body["top_p"] = *request.top_p;
  if (request.seed)
    body["seed"] = *request.seed;
  if (!request.stop.empty())
    body["stop"] = request.stop;
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const auto& tool : request.tools)
      tools.push_back(encode_tool(tool));
    body["tools"] = std::move(tools);
  }
  if (request.tool_choice)
    body["tool_choice"] = encode_tool_choice(*request.tool_choice);
  if (request.parallel_tool_calls)
    body["parallel_tool_calls"] = *request.parallel_tool_calls;
  if (request.response_format)
    body["response_format"] = encode_response_format(*request.response_format);
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  if (request.extra.is_map())
    for (const auto& [key, value] : request.extra.as_map())
      body[key] = detail::to_nlohmann(value);
  return to_wire(body);
}

Result<ChatCall> decode_chat_request(std::string_view body) {
  auto doc = parse(body, Errc::bad_request);
  if (!doc)
    return std::move(doc).error();
  ChatCall call;
  auto& request = call.request;
  const json* messages = member(*doc, "messages");
  if (!messages)
    return bad(Errc::bad_request, "messages", "missing");
  if (!messages->is_array() || messages->empty())
    return bad(Errc::bad_request, "messages", "expected a non-empty array");
  for (std::size_t i = 0; i < messages->size(); ++i) {
    auto m = decode_message((*messages)[i], indexed("messages", i));
    if (!m)
      return std::move(m).error();
    request.messages.push_back(std::move(*m));
  }
  if (const json* model = member(*doc, "model")) {
    if (!model->is_string())
      return bad(Errc::bad_request, "model", "expected a string");
    request.model = model->get<std::string>();
  }
  for (const char* name : {"max_tokens", "max_completion_tokens"})
    if (const json* max = member(*doc, name)) {
      if (!max->is_number_unsigned() || max->get<std::uint64_t>() > UINT32_MAX)
        return bad(Errc::bad_request, name, "expected a non-negative integer");
      request.max_tokens = max->get<std::uint32_t>();
    }
  for (auto [name, slot] :
       {std::pair{"temperature", &request.temperature}, std::pair{"top_p", &request.top_p}})
    if (const json* t = member(*doc, name)) {
      if (!t->is_number())
        return bad(Errc::bad_request, name, "expected a number");
      *slot = t->get<double>();
    }
  if (const json* seed = member(*doc, "seed")) {
    if (!seed->is_number_integer())
      return bad(Errc::bad_request, "seed", "expected an integer");
    request.seed = seed->get<std::int64_t>();
  }
  if (const json* stop = member(*doc, "stop")) {
    if (stop->is_string()) {
      request.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array() && std::all_of(stop->begin(), stop->end(),
                                               [](const json& s) { return s.is_string(); })) {
      for (const auto& s : *stop)
        request.stop.push_back(s.get<std::string>());
    } else {
      return bad(Errc::bad_request, "stop", "expected a string or an array of strings");
    }
  }
  if (const json* tools = member(*doc, "tools")) {
    if (!tools->is_array())
      return bad(Errc::bad_request, "tools", "expected an array");
    for (std::size_t i = 0; i < tools->size(); ++i) {
      auto tool = decode_tool((*tools)[i], indexed("tools", i));
      if (!tool)
        return std::move(tool).error();
      request.tools.push_back(std::move(*tool));
    }
  }
  if (const json* choice = member(*doc, "tool_choice")) {
    auto decoded = decode_tool_choice(*choice);
    if (!decoded)
      return std::move(decoded).error();
    request.tool_choice = std::move(*decoded);
  }
  if (const json* parallel = member(*doc, "parallel_tool_calls")) {
    if (!parallel->is_boolean())
      return bad(Errc::bad_request, "parallel_tool_calls", "expected true or false");
    request.parallel_tool_calls = parallel->get<bool>();
  }
  if (const json* format = member(*doc, "response_format")) {
    auto decoded = decode_response_format(*format);
    if (!decoded)
      return std::move(decoded).error();
    request.response_format = std::move(*decoded);
  }
  if (const json* stream = member(*doc, "stream")) {
    if (!stream->is_boolean())
      return bad(Errc::bad_request, "stream", "expected true or false");
    call.stream = stream->get<bool>();
  }
  if (const json* options = member(*doc, "stream_options"); options && options->is_object())
    if (const json* usage = member(*options, "include_usage"); usage && usage->is_boolean())
      call.include_usage = usage->get<bool>();
  Map extra;
  for (const auto& [key, value] : doc->items())
    if (!is_known_member(key))
      if (auto v = detail::from_nlohmann(value))
        extra.emplace(key, std::move(*v));
  if (!extra.empty())
    request.extra = Value(std::move(extra));
  return call;
}

// -- responses ----------------------------------------------------------------------------------

std::string encode_chat_response(const ChatResponse& response, std::string_view id,
                                 std::int64_t created_unix) {
  json message = {{"role", "assistant"},
                  {"content", response.text.empty() && !response.tool_calls.empty()
                                  ? json(nullptr)
                                  : json(response.text)}};
  if (!response.tool_calls.empty())
    message["tool_calls"] = encode_tool_calls(response.tool_calls);
  message["refusal"] = response.refusal ? json(*response.refusal) : json(nullptr);
  json choice = {
      {"index", 0}, {"message", std::move(message)}, {"finish_reason", response.finish_reason}};
  json body = {{"id", id},
               {"object", "chat.completion"},
               {"created", created_unix},
               {"model", response.model},
               {"choices", json::array({std::move(choice)})},
               {"usage", encode_usage(response.usage)}};
  return to_wire(body);
}

Result<ChatResponse> decode_chat_response(std::string_view body) {
  auto doc = parse(body, Errc::bad_response);
  if (!doc)
    return std::move(doc).error();
  const json* choices = member(*doc, "choices");
  if (!choices)
    return bad(Errc::bad_response, "choices", "missing");
  if (!choices->is_array() || choices->empty())
    return bad(Errc::bad_response, "choices", "expected a non-empty array");
  const json& first = (*choices)[0];
  const json* message = first.is_object() ? member(first, "message") : nullptr;
  if (!message || !message->is_object())
    return bad(Errc::bad_response, "choices[0].message", "missing");
  const json* content = member(*message, "content");
  // A null content is legal (a tool call, a refusal): it reads as empty text.
  if (content && !content->is_string())
    return bad(Errc::bad_response, "choices[0].message.content", "expected a string");
  if (!content && !message->contains("content"))
    return bad(Errc::bad_response, "choices[0].message.content", "missing");
  ChatResponse out;
  if (content)
    out.text = content->get<std::string>();
  if (const json* calls = member(*message, "tool_calls")) {
    auto decoded = decode_tool_calls(*calls, "choices[0].message.tool_calls", Errc::bad_response);
    if (!decoded)
      return std::move(decoded).error();
    out.tool_calls = std::move(*decoded);
  }
  if (const json* refusal = member(*message, "refusal"); refusal && refusal->is_string())
    out.refusal = refusal->get<std::string>();
  if (const json* reason = member(first, "finish_reason"); reason && reason->is_string())
    out.finish_reason = reason->get<std::string>();
  if (const json* model = member(*doc, "model"); model && model->is_string())
    out.model = model->get<std::string>();
  if (const json* usage = member(*doc, "usage"); usage && usage->is_object())
    out.usage = decode_usage(*usage);
  return out;
}

} // namespace actorflow::wire
