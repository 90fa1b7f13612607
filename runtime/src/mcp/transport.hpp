#pragma once
// How JSON-RPC messages travel to an MCP server and back: a child process's stdin and stdout
// (stdio_transport.cpp), or HTTP POSTs (http_transport.cpp). Internal.

#include <actorflow/mcp.hpp>
#include <actorflow/result.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace actorflow::mcp {

/// Where a transport delivers what arrives. Called on the transport's own threads.
struct Sink {
  /// One JSON-RPC message (or batch), as text.
  std::function<void(std::string_view message)> on_message;
  /// The request `id` got no answer: its POST failed (HTTP).
  std::function<void(std::uint64_t id, Error error)> on_request_failed;
  /// The connection is broken for good (the process exited, its output is not JSON-RPC):
  /// every call still waiting fails with `error`.
  std::function<void(Error error)> on_broken;
};

class Transport {
public:
  virtual ~Transport() = default;
  /// Sends one message; `id` is the request's (0 for a notification or a reply).
  virtual void send(std::string message, std::uint64_t id) = 0;
  /// Stops: joins the transport's threads (no Sink call after it returns) and ends a child
  /// process. Idempotent; the destructor calls it too.
  virtual void close() = 0;
  [[nodiscard]] virtual std::optional<int> process_id() const { return std::nullopt; }
};

/// Starts `server.command` with its stdin and stdout as the channel. Errors name the program.
[[nodiscard]] Result<std::unique_ptr<Transport>> start_stdio(const McpServer& server, Sink sink);
/// Talks to `server.url`.
[[nodiscard]] Result<std::unique_ptr<Transport>> open_http(const McpServer& server, Sink sink);

} // namespace actorflow::mcp
