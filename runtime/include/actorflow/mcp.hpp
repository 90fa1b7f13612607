#pragma once
/// A client of the Model Context Protocol (JSON-RPC 2.0), so that an MCP server's tools are
/// agent tools. Two transports: stdio (the server is a child process, one JSON message per
/// line) and Streamable HTTP (POST to one endpoint; JSON or server-sent events back; the
/// session id the server hands out goes with every later request).
///
/// A server that exits, hangs or writes something that is not JSON-RPC becomes a typed error
/// of the calls it leaves unanswered (connection_failed, timeout, bad_response), never a hang
/// or a crash. Calls are asynchronous: many may be in flight on one connection.

#include <actorflow/result.hpp>
#include <actorflow/tool.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actorflow {

/// Where an MCP server is and how to reach it: `command` (stdio) or `url` (Streamable HTTP).
struct McpServer {
  /// stdio: the program and its arguments, e.g. {"npx", "@modelcontextprotocol/server-x"}.
  /// Looked up in PATH when it has no slash.
  std::vector<std::string> command{};
  /// Streamable HTTP: the endpoint, e.g. "http://127.0.0.1:3001/mcp".
  std::string url{};
  /// HTTP: extra headers ("Authorization: Bearer ...").
  std::vector<std::string> headers{};
  /// Longest wait for any one answer (initialize, a tool call): then `timeout`.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  /// Put before every tool name ("fs_" makes "read_file" "fs_read_file"), to keep the tools
  /// of several servers apart.
  std::string tool_prefix{};
};

/// One connection to one MCP server, initialized. Movable, not copyable; the tools it makes
/// keep the connection alive. Destroying the last owner closes it (a child process is asked
/// to end, then killed).
class McpClient {
public:
  /// Starts or reaches the server and runs the initialize handshake (blocking, bounded by
  /// `timeout`). A server that cannot start, answers with an error or not at all is an
  /// error naming what happened.
  [[nodiscard]] static Result<McpClient> connect(McpServer server);

  /// The server's tools as agent tools (tools/list, every page): each call goes to the
  /// server (tools/call); a result flagged isError comes back to the model as an error.
  /// A tool's value is its structuredContent when it has one, else its text content.
  [[nodiscard]] Result<std::vector<Tool>> tools() const;

  /// Calls tool `name` (without the prefix) with `arguments`; `done` runs once, on a thread
  /// of the client's, with the tool's value or the error.
  void call_tool(const std::string& name, Value arguments,
                 std::function<void(Result<Value>)> done) const;
  /// The same, blocking: for host code, not for node code (use the tools there).
  [[nodiscard]] Result<Value> call_tool(const std::string& name, Value arguments) const;

  /// serverInfo.name from the handshake, and the protocol version agreed on.
  [[nodiscard]] const std::string& server_name() const noexcept;
  [[nodiscard]] const std::string& protocol_version() const noexcept;
  /// The child's process id (stdio), for those who need to watch it; none over HTTP.
  [[nodiscard]] std::optional<int> process_id() const noexcept;

  struct Connection; ///< internal
private:
  explicit McpClient(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
  std::shared_ptr<Connection> connection_;
};

} // namespace actorflow
