#pragma once
/// The chat protocol as node code and providers see it: messages (text, image parts, tool
/// calls, tool results), requests (tools, tool choice, response formats, sampling options,
/// extra body fields) and responses (text, tool calls, refusal, usage with cached tokens).
/// The fields follow OpenAI's Chat Completions API, which most servers speak; a provider that
/// cannot honour a field says so with `bad_request` rather than ignoring it silently.

#include <actorflow/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// One part of a message's content: text, or an image given by URL (https or a data: URL).
struct ContentPart {
  enum class Kind : std::uint8_t { text, image_url };
  Kind kind = Kind::text;
  std::string text{};   ///< for text
  std::string url{};    ///< for image_url
  std::string detail{}; ///< for image_url: "auto", "low", "high"; empty: the server's default

  [[nodiscard]] static ContentPart of_text(std::string text);
  [[nodiscard]] static ContentPart image(std::string url, std::string detail = {});
  friend bool operator==(const ContentPart&, const ContentPart&) = default;
};

/// A call of a tool (a function) the model asks for. `arguments` is the JSON text the model
/// wrote, kept as is: it may be malformed, and that is for the tool runner to report back.
struct ToolCall {
  std::string id{};
  std::string name{};
  std::string arguments{};
  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

/// One message of a chat: `role` is "system", "user", "assistant" or "tool".
struct ChatMessage {
  std::string role{};
  /// The text. With `parts`, the parts are sent instead (and this is ignored).
  std::string content{};
  /// Content as parts (text and images), for models that read images.
  std::vector<ContentPart> parts{};
  /// An assistant message's tool calls (its content may then be empty).
  std::vector<ToolCall> tool_calls{};
  /// A "tool" message: the id of the call this is the result of.
  std::string tool_call_id{};
  /// An optional participant name; on a "tool" message, the tool's name.
  std::string name{};

  [[nodiscard]] static ChatMessage system(std::string text);
  [[nodiscard]] static ChatMessage user(std::string text);
  [[nodiscard]] static ChatMessage assistant(std::string text, std::vector<ToolCall> calls = {});
  /// The result of tool call `call_id` of tool `tool_name`.
  [[nodiscard]] static ChatMessage tool_result(std::string call_id, std::string tool_name,
                                               std::string text);
  /// The text the message carries: `content`, or its text parts joined by newlines.
  [[nodiscard]] std::string text() const;
  friend bool operator==(const ChatMessage&, const ChatMessage&) = default;
};

/// A tool offered to the model: a function with a JSON Schema for its arguments.
struct ToolSpec {
  std::string name{};
  std::string description{};
  /// A JSON Schema (as a Value map), normally {"type":"object","properties":{...}}.
  Value parameters = Value::object({{"type", "object"}, {"properties", Value(Map{})}});
  /// Ask the server to hold the model to the schema exactly (OpenAI's strict mode).
  bool strict = false;
  friend bool operator==(const ToolSpec&, const ToolSpec&) = default;
};

/// Whether and which tools the model must call.
struct ToolChoice {
  enum class Mode : std::uint8_t { automatic, none, required, function };
  Mode mode = Mode::automatic;
  std::string function{}; ///< for Mode::function: the tool's name

  [[nodiscard]] static ToolChoice automatic() { return {}; }
  [[nodiscard]] static ToolChoice none() { return {Mode::none, {}}; }
  [[nodiscard]] static ToolChoice required() { return {Mode::required, {}}; }
  [[nodiscard]] static ToolChoice named(std::string tool) {
    return {Mode::function, std::move(tool)};
  }
  friend bool operator==(const ToolChoice&, const ToolChoice&) = default;
};

/// The shape the answer must have: free text, any JSON object, or JSON valid against a schema.
struct ResponseFormat {
  enum class Type : std::uint8_t { text, json_object, json_schema };
  Type type = Type::text;
  std::string name{}; ///< json_schema: a name for the schema (the API requires one)
  Value schema{};     ///< json_schema: the JSON Schema
  bool strict = true; ///< json_schema: ask the server to decode within the schema

  [[nodiscard]] static ResponseFormat json_object() { return {Type::json_object, {}, {}, false}; }
  [[nodiscard]] static ResponseFormat json_schema(std::string name, Value schema,
                                                  bool strict = true) {
    return {Type::json_schema, std::move(name), std::move(schema), strict};
  }
  friend bool operator==(const ResponseFormat&, const ResponseFormat&) = default;
};

/// Where in a durable run a model call was made, stable when the run is resumed and its code
/// runs again to the same call: the run's id, and the place (node path with the step of each
/// enclosing flow, batch item, attempt, and the call's number within the attempt). The runtime
/// fills it for calls of node code in a run with a checkpoint store; it is empty elsewhere.
/// A provider that keeps work across processes (the batch provider's journal) finds a call's
/// earlier submission by it; others ignore it.
struct CallOrigin {
  std::string run_id{};
  std::string place{};
  [[nodiscard]] bool empty() const noexcept { return run_id.empty() || place.empty(); }
};

struct ChatRequest {
  std::vector<ChatMessage> messages{};
  /// Empty: the provider's default model.
  std::string model{};
  /// Most tokens the answer may have; none: the provider's own limit.
  std::optional<std::uint32_t> max_tokens{};
  std::optional<double> temperature{};
  std::optional<double> top_p{};
  /// For reproducible sampling, where the server supports it.
  std::optional<std::int64_t> seed{};
  /// The answer ends before the first of these.
  std::vector<std::string> stop{};
  /// Tools the model may call.
  std::vector<ToolSpec> tools{};
  std::optional<ToolChoice> tool_choice{};
  /// Whether the model may ask for several tool calls in one turn (the server's default: yes).
  std::optional<bool> parallel_tool_calls{};
  std::optional<ResponseFormat> response_format{};
  /// Extra members of the request body, for servers with options of their own (vLLM's
  /// `guided_json`, llama.cpp's `grammar`, ...): a map merged into the body last, so it may
  /// also override a field.
  Value extra{};
  /// Streaming: when set, the answer is asked for as a stream (`stream: true`) and each piece
  /// of text is passed here as it arrives, on the provider's I/O thread (keep it quick and
  /// thread-safe). Tool calls arrive in pieces too; they are assembled into the response. The
  /// final ChatResponse holds the whole text.
  std::function<void(std::string_view piece)> on_token{};
  /// Where the call was made (see CallOrigin); not sent to the server.
  CallOrigin origin{};

  /// A request of one user message.
  [[nodiscard]] static ChatRequest user(std::string content);
  /// The text of the last "user" message (of the last message if none is from the user);
  /// "" when there are no messages.
  [[nodiscard]] std::string prompt() const;
};

/// Tokens a call used, as the provider counted them.
struct Usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t total_tokens = 0;
  /// Prompt tokens the server had cached (prompt_tokens_details.cached_tokens); part of
  /// prompt_tokens.
  std::uint64_t cached_tokens = 0;
  friend bool operator==(const Usage&, const Usage&) = default;
};

/// What a server said about its rate limits (OpenAI's x-ratelimit-* headers), on successes and
/// on 429s alike. Each field is absent when the server did not send it.
struct RateLimitInfo {
  std::optional<std::uint64_t> limit_requests{};
  std::optional<std::uint64_t> remaining_requests{};
  std::optional<std::chrono::milliseconds> reset_requests{}; ///< until the request limit resets
  std::optional<std::uint64_t> limit_tokens{};
  std::optional<std::uint64_t> remaining_tokens{};
  std::optional<std::chrono::milliseconds> reset_tokens{};
  [[nodiscard]] bool empty() const noexcept;
  friend bool operator==(const RateLimitInfo&, const RateLimitInfo&) = default;
};

struct ChatResponse {
  std::string text{};
  /// Tool calls the model asks for, in its order (finish_reason "tool_calls").
  std::vector<ToolCall> tool_calls{};
  /// The model declined to answer (structured outputs): its explanation.
  std::optional<std::string> refusal{};
  /// "stop" (a natural end or a stop sequence), "length" (max_tokens reached), "tool_calls",
  /// or what the server said.
  std::string finish_reason{};
  Usage usage{};
  /// The model that answered, as the provider named it.
  std::string model{};
  RateLimitInfo rate_limits{};

  /// The assistant message to append to the chat for the next turn.
  [[nodiscard]] ChatMessage message() const { return ChatMessage::assistant(text, tool_calls); }
};

// -- transcripts as Values (in a State, a checkpoint, a report) ---------------------------------

/// {"role", "content"} plus, where set, "parts", "tool_calls" ([{id, name, arguments}]),
/// "tool_call_id" and "name".
[[nodiscard]] Value to_value(const ChatMessage& message);
[[nodiscard]] Value to_value(const std::vector<ChatMessage>& messages);
/// The inverse; bad_input naming the member that is wrong ("[2].tool_calls[0].id: ...").
[[nodiscard]] Result<ChatMessage> message_from_value(const Value& value);
[[nodiscard]] Result<std::vector<ChatMessage>> messages_from_value(const Value& value);

} // namespace actorflow
