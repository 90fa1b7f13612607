// MCP over Streamable HTTP: every message is a POST to the endpoint, accepting JSON or a
// stream of server-sent events; the answer to a request comes back in its POST's response.
// The session id the server gives with its answer to initialize goes with every later
// request, with the protocol version agreed on. Runs on the providers' libcurl client (one
// I/O thread for every request in flight).
#include "mcp/jsonrpc.hpp"
#include "mcp/transport.hpp"
#include "providers/http_client.hpp"

#include <nlohmann/json.hpp>

#include <mutex>

namespace actorflow::mcp {

namespace {

class HttpTransport final : public Transport {
public:
  HttpTransport(const McpServer& server, Sink sink)
      : url_(server.url), timeout_(server.timeout), sink_(std::move(sink)),
        client_(std::make_unique<http::Client>(0, server.headers)) {}
  ~HttpTransport() override { close(); }

  void close() override {
    std::unique_ptr<http::Client> client;
    {
      std::lock_guard guard(mutex_);
      client = std::move(client_);
    }
    client.reset(); // stops its I/O thread: transfers end with `cancelled`
  }

  void send(std::string message, std::uint64_t id) override {
    http::Request request;
    request.url = url_;
    request.timeout = timeout_;
    request.connect_timeout = timeout_;
    request.headers = {"Content-Type: application/json",
                       "Accept: application/json, text/event-stream"};
    {
      std::lock_guard guard(mutex_);
      if (!session_.empty())
        request.headers.push_back("Mcp-Session-Id: " + session_);
      if (!version_.empty())
        request.headers.push_back("MCP-Protocol-Version: " + version_);
    }
    // The answer to initialize names the protocol version the later requests must carry.
    bool initialize = message.find("\"method\":\"initialize\"") != std::string::npos;
    request.body = std::move(message);
    {
      // Posting under the lock keeps close() from stopping the client meanwhile; post calls
      // back at once only on a stopping client, which close() has taken out of client_.
      std::lock_guard guard(mutex_);
      if (client_) {
        client_->post(std::move(request), [this, id, initialize](http::Response r) {
          receive(id, initialize, std::move(r));
        });
        return;
      }
    }
    fail(id, Error{Errc::cancelled, "the MCP connection is closed"});
  }

private:
  void receive(std::uint64_t id, bool initialize, http::Response r) {
    if (r.transport != http::Transport::ok) {
      auto code = r.transport == http::Transport::timed_out   ? Errc::timeout
                  : r.transport == http::Transport::cancelled ? Errc::cancelled
                                                              : Errc::connection_failed;
      fail(id, Error{code, "MCP server " + url_ + ": " + r.transport_error});
      return;
    }
    if (r.status == 202 || (r.status == 200 && r.body.empty() && id == 0))
      return; // a notification or a reply, accepted
    if (r.status != 200) {
      fail(id, Error{r.status == 404 ? Errc::connection_failed : Errc::bad_request,
                     "MCP server " + url_ + " answered HTTP " + std::to_string(r.status) +
                         (r.body.empty() ? "" : ": " + r.body.substr(0, 200))});
      return;
    }
    if (auto session = wire::header(r.headers, "mcp-session-id")) {
      std::lock_guard guard(mutex_);
      session_ = std::string(*session);
    }
    auto type = wire::header(r.headers, "content-type").value_or("");
    std::vector<std::string> messages;
    if (type.starts_with("text/event-stream"))
      messages = mcp::sse_data(r.body);
    else
      messages.push_back(std::move(r.body));
    if (initialize)
      for (const auto& m : messages) {
        auto docs = parse_messages(m); // bad ones are the client's to report
        for (const auto& doc : docs ? *docs : std::vector<nlohmann::json>{}) {
          auto in = classify(doc);
          if (in.kind != Incoming::Kind::answer || !in.result || !in.result->ok())
            continue;
          if (auto version = text_of(**in.result, "protocolVersion"); !version.empty()) {
            std::lock_guard guard(mutex_);
            version_ = std::move(version);
          }
        }
      }
    for (const auto& m : messages)
      sink_.on_message(m);
  }

  void fail(std::uint64_t id, Error error) {
    if (id != 0)
      sink_.on_request_failed(id, std::move(error));
  }

  std::string url_;
  std::chrono::milliseconds timeout_;
  Sink sink_;
  std::mutex mutex_;
  std::string session_;                  // guarded by mutex_
  std::string version_;                  // guarded by mutex_
  std::unique_ptr<http::Client> client_; // guarded by mutex_; reset by close()
};

} // namespace

Result<std::unique_ptr<Transport>> open_http(const McpServer& server, Sink sink) {
  if (!server.url.starts_with("http://") && !server.url.starts_with("https://"))
    return Error{Errc::bad_input, "MCP server: the url must start with http:// or https://, "
                                  "got '" +
                                      server.url + "'"};
  return std::unique_ptr<Transport>(std::make_unique<HttpTransport>(server, std::move(sink)));
}

} // namespace actorflow::mcp
