#include "sim/answers.hpp"

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <utility>

namespace actorflow::tools::sim {

using json = nlohmann::json;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// The text cut before each word, whitespace joined to the word after it (roughly a token at a
// time, as a model streams); concatenated, the pieces give the text back.
std::vector<std::string_view> word_pieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (is_space(text[i]) && !is_space(text[i - 1])) {
      pieces.push_back(text.substr(start, i - start));
      start = i;
    }
  }
  if (start < text.size())
    pieces.push_back(text.substr(start));
  return pieces;
}

} // namespace

void spoil_content(ChatResponse& response, std::optional<Fault> fault) {
  if (fault == Fault::bad_tool_args)
    for (auto& call : response.tool_calls)
      call.arguments.resize(call.arguments.size() / 2);
  if (fault == Fault::bad_json)
    response.text.resize(response.text.size() / 2);
}

Answer chat_answer(const wire::ChatCall& call, const ChatResponse& response, std::string id) {
  Answer out{.body = {},
             .events = {},
             .usage = response.usage,
             .object = "chat.completion",
             .id = std::move(id),
             .created = unix_now(),
             .model = response.model};
  if (!call.stream) {
    out.body = wire::encode_chat_response(response, out.id, out.created);
    return out;
  }
  out.object = "chat.completion.chunk";
  for (auto piece : word_pieces(response.text))
    out.events.push_back(wire::encode_chat_chunk(out.id, out.created, out.model, {.text = piece},
                                                 std::nullopt, std::nullopt));
  // A tool call in two pieces, as servers send them: its id and name, then its arguments.
  for (std::size_t i = 0; i < response.tool_calls.size(); ++i) {
    ToolCall head = response.tool_calls[i];
    ToolCall rest{{}, {}, std::move(head.arguments)};
    head.arguments.clear();
    for (const ToolCall* piece : {&head, &rest})
      out.events.push_back(wire::encode_chat_chunk(out.id, out.created, out.model,
                                                   {.tool_call = piece, .tool_index = i},
                                                   std::nullopt, std::nullopt));
  }
  out.events.push_back(wire::encode_chat_chunk(
      out.id, out.created, out.model, {}, response.finish_reason,
      call.include_usage ? std::optional<Usage>(response.usage) : std::nullopt));
  out.events.emplace_back(wire::sse_done());
  return out;
}

// What a call reserves, as the runtime's resource controllers count it.
std::uint64_t cost_of(const wire::ChatCall& call) { return reserved_tokens(call.request); }
std::uint64_t cost_of(const EmbedRequest& request) { return reserved_tokens(request); }

Answer embed_answer(const Embeddings& embeddings) {
  return Answer{.body = wire::encode_embed_response(embeddings),
                .events = {},
                .usage = embeddings.usage,
                .object = "list",
                .id = {},
                .created = 0,
                .model = embeddings.model};
}

// The answer's envelope, valid JSON (in a stream, a valid event) without `choices` / `data`.
std::string without_result(const Answer& answer) {
  json head = {{"object", answer.object}, {"model", answer.model}};
  if (!answer.id.empty()) {
    head["id"] = answer.id;
    head["created"] = answer.created;
  }
  if (answer.events.empty())
    return head.dump();
  return "data: " + head.dump() + "\n\n" + std::string(wire::sse_done());
}

// An answer that is not JSON: the body cut in half (for a stream, the first event is cut and
// the stream then ends normally, so the client has an undecodable event to report).
std::string malformed(const Answer& answer) {
  if (answer.events.empty())
    return answer.body.substr(0, answer.body.size() / 2);
  const auto& first = answer.events.front();
  return first.substr(0, first.size() / 2) + "\n\n" + std::string(wire::sse_done());
}

// The `drop` fault. The headers promise the whole body, half of it is sent, and then the
// content provider fails: httplib gives up on the connection and closes it mid-body. Clients
// see a broken transfer (curl: "transfer closed with outstanding read data remaining",
// httplib: Error::Read), never a complete response.
void drop_connection(httplib::Response& res, const Answer& answer) {
  auto body = answer.whole();
  auto size = body.size();
  res.set_content_provider(
      size, answer.content_type(),
      [body = std::move(body)](std::size_t offset, std::size_t, httplib::DataSink& sink) {
        if (offset == 0)
          sink.write(body.data(), body.size() / 2);
        return false;
      });
}

// One HTTP chunk per event, so a client sees the pieces arrive one by one.
void stream_events(httplib::Response& res, std::vector<std::string> events) {
  res.set_chunked_content_provider(
      sse_type, [events = std::move(events)](std::size_t, httplib::DataSink& sink) {
        for (const auto& event : events)
          if (!sink.write(event.data(), event.size()))
            return false;
        sink.done();
        return true;
      });
}

void answer_error(httplib::Response& res, int status, std::string_view message,
                  std::string_view type, std::string_view code) {
  res.status = status;
  res.set_content(wire::encode_error(message, type, code), json_type);
}

// Sockets in this process that are connected through local port `port`: the server side of
// the sim's connections.
std::vector<int> connections_on(std::uint16_t port) {
  std::vector<int> found;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return found;
  int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    auto number = wire::parse_count(entry->d_name);
    if (!number || static_cast<int>(*number) == own)
      continue;
    int fd = static_cast<int>(*number);
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0)
      continue; // not a socket
    std::uint16_t local_port = 0;
    if (local.ss_family == AF_INET)
      local_port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    else if (local.ss_family == AF_INET6)
      local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    sockaddr_storage peer{};
    size = sizeof peer;
    if (local_port == port && ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) == 0)
      found.push_back(fd);
  }
  ::closedir(dir);
  return found;
}

} // namespace actorflow::tools::sim
