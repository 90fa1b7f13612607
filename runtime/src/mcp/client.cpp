// McpClient: JSON-RPC requests over a transport, answers matched to their calls by id, a
// watchdog that fails calls whose answer is late, and the server's tools as agent tools.
#include <actorflow/mcp.hpp>

#include "core/value_json.hpp"
#include "mcp/jsonrpc.hpp"
#include "mcp/transport.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace actorflow {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

/// The protocol revision this client speaks; servers answer with theirs.
constexpr const char* protocol_revision = "2025-06-18";

} // namespace

struct McpClient::Connection {
  using Done = std::function<void(Result<json>)>;
  struct Pending {
    Clock::time_point deadline;
    Done done;
    std::string method;
  };

  McpServer server;
  std::unique_ptr<mcp::Transport> transport; // set once started; reset first on destruction
  std::string server_name;
  std::string protocol_version;

  std::mutex mutex;
  std::condition_variable wake_watchdog;
  std::map<std::uint64_t, Pending> pending; // guarded by mutex
  std::uint64_t next_id = 1;                // guarded by mutex
  std::optional<Error> broken;              // guarded by mutex: every later call fails so
  bool stopping = false;                    // guarded by mutex
  std::thread watchdog;

  explicit Connection(McpServer s) : server(std::move(s)) {
    watchdog = std::thread([this] { watch(); });
  }

  ~Connection() {
    if (transport)
      transport->close(); // joins the transport's threads: no callback after this
    {
      std::lock_guard guard(mutex);
      transport.reset();
    }
    {
      std::lock_guard guard(mutex);
      stopping = true;
    }
    wake_watchdog.notify_all();
    watchdog.join();
    fail_all(Error{Errc::cancelled, "the MCP connection was closed"});
  }

  mcp::Sink sink() {
    return mcp::Sink{
        .on_message = [this](std::string_view text) { receive(text); },
        .on_request_failed = [this](std::uint64_t id, Error e) { finish(id, std::move(e)); },
        .on_broken = [this](Error e) { break_with(std::move(e)); }};
  }

  /// Sends `method` with `params`; `done` gets the result or the error, once.
  void request(const std::string& method, json params, Done done) {
    std::uint64_t id = 0;
    std::optional<Error> refused;
    {
      std::lock_guard guard(mutex);
      if (broken) {
        refused = *broken;
      } else {
        id = next_id++;
        pending.emplace(id, Pending{Clock::now() + server.timeout, std::move(done), method});
      }
    }
    if (refused) { // outside the lock: `done` may call again
      done(std::move(*refused));
      return;
    }
    wake_watchdog.notify_all();
    json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null())
      message["params"] = std::move(params);
    transport->send(message.dump(-1, ' ', false, json::error_handler_t::replace), id);
  }

  void notify(const std::string& method) {
    json message = {{"jsonrpc", "2.0"}, {"method", method}};
    transport->send(message.dump(), 0);
  }

  /// A blocking request, for the handshake and for host code.
  Result<json> request_and_wait(const std::string& method, json params) {
    auto promise = std::make_shared<std::promise<Result<json>>>();
    auto future = promise->get_future();
    request(method, std::move(params),
            [promise](Result<json> r) { promise->set_value(std::move(r)); });
    return future.get(); // bounded: the watchdog fails it at its deadline
  }

  void receive(std::string_view text) {
    auto messages = mcp::parse_messages(text);
    if (!messages)
      return break_with(messages.error());
    for (const auto& m : *messages) {
      auto in = mcp::classify(m);
      if (in.kind == mcp::Incoming::Kind::request)
        send_reply(in.reply.dump());
      else if (in.kind == mcp::Incoming::Kind::answer)
        finish(in.id, std::move(*in.result));
    }
  }

  /// A reply to the server, from a transport thread: the transport may not be set yet (the
  /// handshake) or be closing; then the reply is dropped.
  void send_reply(std::string text) {
    std::lock_guard guard(mutex);
    if (transport && !stopping)
      transport->send(std::move(text), 0);
  }

  void finish(std::uint64_t id, Result<json> result) {
    Done done;
    {
      std::lock_guard guard(mutex);
      auto it = pending.find(id);
      if (it == pending.end())
        return; // late: timed out already
      done = std::move(it->second.done);
      pending.erase(it);
    }
    done(std::move(result));
  }

  void break_with(Error error) {
    {
      std::lock_guard guard(mutex);
      if (!broken || error.code == Errc::connection_failed)
        broken = error;
    }
    fail_all(std::move(error));
  }

  void fail_all(const Error& error) {
    std::map<std::uint64_t, Pending> failing;
    {
      std::lock_guard guard(mutex);
      failing.swap(pending);
    }
    for (auto& [id, p] : failing)
      p.done(error);
  }

  /// Fails each call at its deadline: a server that hangs never hangs its callers.
  void watch() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      auto now = Clock::now();
      std::vector<Pending> late;
      for (auto it = pending.begin(); it != pending.end();) {
        if (it->second.deadline <= now) {
          late.push_back(std::move(it->second));
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
      if (!late.empty()) {
        lock.unlock();
        for (auto& p : late)
          p.done(Error{Errc::timeout, "the MCP server did not answer " + p.method + " within " +
                                          std::to_string(server.timeout.count()) + " ms"});
        lock.lock();
        continue;
      }
      auto next = Clock::time_point::max();
      for (const auto& [id, p] : pending)
        next = std::min(next, p.deadline);
      if (next == Clock::time_point::max())
        wake_watchdog.wait(lock);
      else
        wake_watchdog.wait_until(lock, next);
    }
  }
};

namespace {

// A free function, not a coroutine lambda (see runtime/src/core/tool.cpp).
Task<Value> await_tool(Context& ctx,
                       std::function<void(std::function<void(Result<Value>)>)> start) {
  auto result = co_await ctx.external(std::move(start));
  if (!result)
    throw Failure(result.error());
  co_return std::move(*result);
}

} // namespace

Result<McpClient> McpClient::connect(McpServer server) {
  bool http = !server.url.empty();
  if (http == !server.command.empty())
    return Error{Errc::bad_input, "MCP server: give either a command (stdio) or a url (HTTP)"};
  auto connection = std::make_shared<Connection>(std::move(server));
  auto transport = http ? mcp::open_http(connection->server, connection->sink())
                        : mcp::start_stdio(connection->server, connection->sink());
  if (!transport)
    return transport.error();
  {
    std::lock_guard guard(connection->mutex);
    connection->transport = std::move(*transport);
  }
  json params = {{"protocolVersion", protocol_revision},
                 {"capabilities", json::object()},
                 {"clientInfo", {{"name", "actorflow"}, {"version", "0.2"}}}};
  auto answer = connection->request_and_wait("initialize", std::move(params));
  if (!answer)
    return Error{answer.error().code, "MCP initialize: " + answer.error().message};
  if (!answer->is_object())
    return Error{Errc::bad_response, "MCP initialize: the result is not an object"};
  connection->protocol_version = mcp::text_of(*answer, "protocolVersion");
  if (auto info = answer->find("serverInfo"); info != answer->end() && info->is_object())
    connection->server_name = mcp::text_of(*info, "name");
  connection->notify("notifications/initialized");
  return McpClient(std::move(connection));
}

Result<std::vector<Tool>> McpClient::tools() const {
  std::vector<Tool> out;
  std::optional<std::string> cursor;
  std::set<std::string> cursors; // given so far
  do {
    json params = json::object();
    if (cursor)
      params["cursor"] = *cursor;
    auto page = connection_->request_and_wait("tools/list", std::move(params));
    if (!page)
      return Error{page.error().code, "MCP tools/list: " + page.error().message};
    auto listed = mcp::decode_tool_page(*page);
    if (!listed)
      return listed.error();
    for (auto& t : listed->tools) {
      const std::string name = t.name;
      Tool tool;
      tool.name = connection_->server.tool_prefix + name;
      tool.description = std::move(t.description);
      if (!t.parameters.is_null())
        tool.parameters = std::move(t.parameters);
      auto connection = connection_; // the tool keeps the connection alive
      tool.handler = [connection, name](Value args, Context& ctx) -> Task<Value> {
        std::function<void(std::function<void(Result<Value>)>)> start =
            [connection, name, args = std::move(args)](std::function<void(Result<Value>)> done) {
              McpClient(connection).call_tool(name, args, std::move(done));
            };
        return await_tool(ctx, std::move(start));
      };
      out.push_back(std::move(tool));
    }
    cursor = std::move(listed->next_cursor);
    // A server that hands out a cursor it gave before would page forever.
    if (cursor && !cursors.insert(*cursor).second)
      return Error{Errc::bad_response,
                   "MCP tools/list: the server gave cursor '" + cursor->substr(0, 80) + "' twice"};
  } while (cursor);
  return out;
}

void McpClient::call_tool(const std::string& name, Value arguments,
                          std::function<void(Result<Value>)> done) const {
  json params = {{"name", name}, {"arguments", detail::to_nlohmann(arguments)}};
  if (!params["arguments"].is_object())
    params["arguments"] = json::object();
  connection_->request(
      "tools/call", std::move(params), [done = std::move(done), name](Result<json> r) {
        if (!r)
          done(Error{r.error().code, "MCP tool '" + name + "': " + r.error().message});
        else
          done(mcp::tool_value(*r));
      });
}

Result<Value> McpClient::call_tool(const std::string& name, Value arguments) const {
  auto promise = std::make_shared<std::promise<Result<Value>>>();
  auto future = promise->get_future();
  call_tool(name, std::move(arguments),
            [promise](Result<Value> r) { promise->set_value(std::move(r)); });
  return future.get();
}

const std::string& McpClient::server_name() const noexcept { return connection_->server_name; }

const std::string& McpClient::protocol_version() const noexcept {
  return connection_->protocol_version;
}

std::optional<int> McpClient::process_id() const noexcept {
  return connection_->transport ? connection_->transport->process_id() : std::nullopt;
}

} // namespace actorflow
