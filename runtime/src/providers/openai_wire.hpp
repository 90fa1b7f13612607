#pragma once
// OpenAI's HTTP wire format (chat completions, embeddings, errors, rate-limit headers, SSE),
// both ways: the `openai` provider encodes requests and decodes responses; `actorflow sim`
// decodes requests and encodes responses. Internal (runtime/src), no CAF, no curl.

#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow::wire {

/// Response headers, names lowercased (HTTP header names are case-insensitive).
using Headers = std::vector<std::pair<std::string, std::string>>;

/// The value of header `name` (lowercase), or none.
[[nodiscard]] std::optional<std::string_view> header(const Headers& headers, std::string_view name);

// -- chat ---------------------------------------------------------------------------------

/// The JSON body of POST /chat/completions. `model` replaces an empty request.model.
/// With `stream`, asks for `stream: true` and usage in the last chunk.
[[nodiscard]] std::string encode_chat_request(const ChatRequest& request, std::string_view model,
                                              bool stream);

/// A parsed POST /chat/completions body (server side). Errors are bad_request and name the
/// field: "messages[2].content: expected a string".
struct ChatCall {
  ChatRequest request;
  bool stream = false;
  bool include_usage = false; ///< stream_options.include_usage
};
[[nodiscard]] Result<ChatCall> decode_chat_request(std::string_view body);

/// A chat completion object (server side). `id` like "chatcmpl-42".
[[nodiscard]] std::string encode_chat_response(const ChatResponse& response, std::string_view id,
                                               std::int64_t created_unix);

/// The parsed answer of a chat completion (client side). Malformed JSON or a missing field is
/// bad_response naming what was wrong: "choices[0].message.content: missing".
[[nodiscard]] Result<ChatResponse> decode_chat_response(std::string_view body);

// -- streaming (server-sent events) ----------------------------------------------------------

/// What one chunk of a stream adds: text, and/or a piece of tool call number `tool_index`
/// (its first piece carries the call's id and name; later pieces leave the id empty and add
/// to the arguments).
struct ChunkDelta {
  std::string_view text{};
  const ToolCall* tool_call = nullptr;
  std::size_t tool_index = 0;
};
/// One SSE event "data: {chunk}\n\n" of a chat.completion.chunk (server side).
[[nodiscard]] std::string encode_chat_chunk(std::string_view id, std::int64_t created_unix,
                                            std::string_view model, const ChunkDelta& delta,
                                            std::optional<std::string_view> finish_reason,
                                            const std::optional<Usage>& usage);
/// "data: [DONE]\n\n".
[[nodiscard]] std::string_view sse_done();

/// Client side: bytes of an SSE stream go in as they arrive; text pieces come out through
/// `on_piece`; tool-call pieces are assembled by their index; `finish()` gives the whole
/// response once the stream ended.
class ChatStreamDecoder {
public:
  /// A line, or an event's data lines together, larger than this fails the stream: a server
  /// that never ends a line or an event must not grow the buffer without bound.
  static constexpr std::size_t max_event_bytes = std::size_t{16} << 20;
  /// The assembled answer (text, refusal, tool calls) may not grow past this over the
  /// stream's events: far beyond any model's output, and a bound on a server's.
  static constexpr std::size_t max_response_bytes = std::size_t{64} << 20;

  /// Feeds received bytes; calls `on_piece` for each non-empty delta. Lines end in LF, CRLF
  /// or CR; an event ends at a blank line, and its data lines, joined by LF, are one chunk.
  /// Only the new bytes are scanned. Returns an error (and ignores what follows) on an
  /// undecodable or oversized event.
  Result<void> feed(std::string_view bytes, const std::function<void(std::string_view)>& on_piece);
  /// The assembled response: bad_response if the stream ended without [DONE] or any choice.
  [[nodiscard]] Result<ChatResponse> finish();

private:
  Result<void> take_line(const std::function<void(std::string_view)>& on_piece);
  Result<void> take_chunk(std::string_view data,
                          const std::function<void(std::string_view)>& on_piece);
  std::string line_;      // the line being received (not yet ended)
  std::string data_;      // the data lines of the event being received
  bool has_data_ = false; // the event has a data line (maybe an empty one)
  bool after_cr_ = false; // the last line ended in CR: an LF next is part of that end
  std::size_t kept_ = 0;  // bytes of the answer assembled so far
  ChatResponse response_;
  bool done_ = false;
  bool any_choice_ = false;
  std::optional<Error> failed_;
};

// -- embeddings -------------------------------------------------------------------------------

[[nodiscard]] std::string encode_embed_request(const EmbedRequest& request, std::string_view model);
/// Server side; `input` may be one string or an array of strings.
[[nodiscard]] Result<EmbedRequest> decode_embed_request(std::string_view body);
[[nodiscard]] std::string encode_embed_response(const Embeddings& embeddings);
/// Client side: vectors are put in input order by their `index`; `expected` is the number of
/// input texts (a count that differs is bad_response).
[[nodiscard]] Result<Embeddings> decode_embed_response(std::string_view body, std::size_t expected);

// -- errors and headers ---------------------------------------------------------------------

/// {"error":{"message":..., "type":..., "code":...}}.
[[nodiscard]] std::string encode_error(std::string_view message, std::string_view type,
                                       std::string_view code = {});
/// The error.message of an error body, if it has one.
[[nodiscard]] std::optional<std::string> decode_error_message(std::string_view body);

/// The x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers.
[[nodiscard]] RateLimitInfo parse_rate_limits(const Headers& headers);
/// The same headers for the fields `info` holds (server side).
void encode_rate_limits(const RateLimitInfo& info, Headers& out);
/// retry-after-ms (exact) and retry-after (whole seconds, rounded up), as parse_retry_after
/// reads them.
void encode_retry_after(std::chrono::milliseconds wait, Headers& out);

/// A decimal count with nothing around it: "42"; none for "", "4x", "-1".
[[nodiscard]] std::optional<std::uint64_t> parse_count(std::string_view text);
/// The longest wait a server may ask for (retry-after, rate-limit resets); more is taken as
/// this. A day covers OpenAI's longest limit window; a hostile or broken server cannot park
/// the runtime for years, nor overflow a clock.
inline constexpr std::chrono::milliseconds max_server_wait = std::chrono::hours(24);

/// When to try again: retry-after-ms (milliseconds), else retry-after (seconds; an HTTP date is
/// not supported and ignored). At most max_server_wait, never negative.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_retry_after(const Headers& headers);

/// OpenAI's reset durations: "1s", "6m0s", "20ms", "1h2m3.5s", "0.5s". None when malformed;
/// at most max_server_wait.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
/// The same format, e.g. 61500ms -> "1m1.5s", 20ms -> "20ms".
[[nodiscard]] std::string format_duration(std::chrono::milliseconds duration);

} // namespace actorflow::wire
