#pragma once
// What a model call answers (JSON, or server-sent events for a stream), and the ways a fault
// spoils it.

#include <actorflow/llm.hpp>

#include "providers/openai_wire.hpp"
#include "sim/faults.hpp"

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::tools::sim {

constexpr const char* json_type = "application/json";
constexpr const char* sse_type = "text/event-stream";

// What a model call answers, and what a fault needs to spoil it.
struct Answer {
  std::string body;                ///< the JSON answer; empty for a stream
  std::vector<std::string> events; ///< a stream's server-sent events; empty: not a stream
  Usage usage;
  std::string object; ///< "chat.completion", "chat.completion.chunk" or "list"
  std::string id;     ///< of a chat completion
  std::int64_t created = 0;
  std::string model;
  [[nodiscard]] const char* content_type() const { return events.empty() ? json_type : sse_type; }
  [[nodiscard]] std::string whole() const {
    std::string out = body;
    for (const auto& event : events)
      out += event;
    return out;
  }
};

/// The content faults: bad_tool_args cuts every tool call's arguments in half (no longer
/// JSON), bad_json cuts the text in half; any other fault leaves `response` alone.
void spoil_content(ChatResponse& response, std::optional<Fault> fault);
/// A chat completion answering `call` (a stream of chunks when it asked for one).
Answer chat_answer(const wire::ChatCall& call, const ChatResponse& response, std::string id);
Answer embed_answer(const Embeddings& embeddings);
/// What a call reserves, as the runtime's resource controllers count it.
std::uint64_t cost_of(const wire::ChatCall& call);
std::uint64_t cost_of(const EmbedRequest& request);

/// The answer's envelope, valid JSON (in a stream, a valid event) without `choices` / `data`.
std::string without_result(const Answer& answer);
/// An answer that is not JSON: the body cut in half (for a stream, the first event is cut and
/// the stream then ends normally, so the client has an undecodable event to report).
std::string malformed(const Answer& answer);
/// The `drop` fault: half the body, then the connection closes.
void drop_connection(httplib::Response& res, const Answer& answer);
/// One HTTP chunk per event, so a client sees the pieces arrive one by one.
void stream_events(httplib::Response& res, std::vector<std::string> events);
/// An error answer in OpenAI's shape.
void answer_error(httplib::Response& res, int status, std::string_view message,
                  std::string_view type, std::string_view code = {});
/// Sockets in this process that are connected through local port `port`: the server side of
/// the sim's connections.
std::vector<int> connections_on(std::uint16_t port);

} // namespace actorflow::tools::sim
