#pragma once
// An HTTP client on libcurl's multi interface: one I/O thread drives every transfer, so
// thousands can be in flight without a thread each. Internal; curl stays in the .cpp.

#include <actorflow/openai.hpp>

#include "providers/openai_wire.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::http {

struct Request {
  std::string url;
  std::string body; ///< sent as a POST body
  bool get = false; ///< a GET instead (no body)
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds connect_timeout{0};
  /// Streaming: a 2xx answer's body is passed here piece by piece, on the I/O thread, instead
  /// of being kept in Response::body.
  std::function<void(std::string_view)> on_body{};
  /// Headers ("Name: value") for this request only, after the client's own.
  std::vector<std::string> headers{};
};

/// How a transfer ended below HTTP.
enum class Transport : std::uint8_t { ok, timed_out, connection_failed, cancelled };

struct Response {
  Transport transport = Transport::ok;
  /// libcurl's words for a transport failure (never holds request headers).
  std::string transport_error;
  long status = 0;
  wire::Headers headers; ///< of the final answer, names lowercased
  std::string body;
};

class Client {
public:
  /// `max_connections` 0: no limit. `headers` ("Name: value") go with every request; they are
  /// built once, not per request. Starts the I/O thread.
  Client(std::size_t max_connections, const std::vector<std::string>& headers);
  /// Stops the I/O thread; transfers not finished complete with Transport::cancelled.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Starts a POST (or a GET: Request::get); `done` runs once on the I/O thread (or on this one,
  /// with `cancelled`, if the client is stopping).
  void post(Request request, std::function<void(Response)> done);

  /// Stops the I/O thread now (idempotent; the destructor does it too): transfers not
  /// finished complete with Transport::cancelled, later posts at once.
  void stop();

  [[nodiscard]] HttpStats stats() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace actorflow::http
