// LlmClient::structured: a chat call whose answer must be JSON valid against a schema,
// repaired by asking again with the problems quoted.
#include <actorflow/json_schema.hpp>
#include <actorflow/llm.hpp>

#include <string>
#include <string_view>

namespace actorflow {

namespace {

/// The JSON inside an answer: the whole text when it parses; else what a fence (```json ...
/// ```) holds, or what lies between the first { or [ and the last } or ]: models add those.
std::string_view json_part(std::string_view text) {
  if (from_json(text))
    return text;
  auto fence = text.find("```");
  if (fence != std::string_view::npos) {
    auto body = text.find('\n', fence);
    auto close = body == std::string_view::npos ? body : text.find("```", body);
    if (close != std::string_view::npos)
      return text.substr(body + 1, close - body - 1);
  }
  auto first = text.find_first_of("{[");
  auto last = text.find_last_of("}]");
  if (first != std::string_view::npos && last != std::string_view::npos && last > first)
    return text.substr(first, last - first + 1);
  return text;
}

std::string schema_instruction(const Value& schema) {
  return "Answer with only a JSON value, no other text, valid against this JSON Schema:\n" +
         to_json(schema);
}

// Plain class-type parameters only (GCC 12 mis-copies closure-typed coroutine parameters).
Task<Result<Value>> structured_call(LlmClient client, bool server_side_schema, ChatRequest request,
                                    Value schema, StructuredOptions options) {
  auto compiled = JsonSchema::compile(schema);
  if (!compiled)
    co_return compiled.error();
  // The schema goes to the server when it takes one; otherwise, or when the caller chose
  // another response format, the model reads it in a system message.
  bool caller_format = request.response_format.has_value();
  if (!caller_format && server_side_schema)
    request.response_format = ResponseFormat::json_schema(options.name, schema, options.strict);
  else if (!caller_format || request.response_format->type != ResponseFormat::Type::json_schema)
    request.messages.insert(request.messages.begin(),
                            ChatMessage::system(schema_instruction(schema)));
  for (std::uint32_t repair = 0;; ++repair) {
    auto reply = co_await client.chat(request);
    if (!reply)
      co_return reply.error();
    if (reply->refusal)
      co_return Error{Errc::bad_output, "the model refused: " + *reply->refusal};
    std::string problems;
    std::string first;
    auto value = from_json(json_part(reply->text));
    if (!value) {
      first = "$: the answer is not JSON (" + value.error().message + ")";
      problems = first;
    } else {
      auto violations = compiled->validate(*value);
      if (violations.empty())
        co_return std::move(*value);
      first = violations.front().path + ": " + violations.front().message;
      problems = describe(violations);
    }
    if (repair == options.max_repairs)
      co_return Error{Errc::bad_output, "the answer breaks its schema at " + first + " (after " +
                                            std::to_string(repair) +
                                            (repair == 1 ? " repair)" : " repairs)")};
    request.messages.push_back(ChatMessage::assistant(reply->text));
    request.messages.push_back(
        ChatMessage::user("Your answer does not match the required JSON Schema:\n" + problems +
                          "\nAnswer again with only the corrected JSON."));
  }
}

} // namespace

Task<Result<Value>> LlmClient::structured(ChatRequest request, Value schema,
                                          StructuredOptions options) const {
  bool server_side = provider_ && provider_->supports_json_schema();
  return structured_call(*this, server_side, std::move(request), std::move(schema),
                         std::move(options));
}

Task<Result<Value>> LlmClient::structured(ChatRequest request, Value schema) const {
  return structured(std::move(request), std::move(schema), StructuredOptions{});
}

} // namespace actorflow
