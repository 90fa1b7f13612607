#pragma once
/// Typed errors and `Result<T>`, the error channel of every actorflow boundary.
///
/// No exception crosses an actor boundary: whatever fails inside a node, a codec or an actor
/// arrives at the caller as an `Error{code, message}`. The code says what kind of failure it
/// was (and so whether a retry could help); the message names the culprit and the value.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace actorflow {

/// What went wrong. Stable numbers: they travel between processes.
enum class Errc : std::uint8_t {
  invalid_flow = 1,  ///< the flow graph is malformed (build time) or names a missing node type
  bad_input,         ///< input that can never succeed: undecodable bytes, wrong type, bad config
  node_threw,        ///< user code (factory, prep, exec, post) threw an exception
  cancelled,         ///< the run, or the runtime, was cancelled or shut down
  deadline_exceeded, ///< the run's (or a flow's) deadline passed: nothing more may run
  step_limit,        ///< a flow ran more steps than its `max_steps` guard allows
  unavailable,       ///< a transient failure (connection, server error); a retry may help
  rate_limited,      ///< a provider answered 429 or a limit was hit; a retry later may help
  peer_lost,         ///< an actor or remote node died while work was in flight
  internal,          ///< a bug in actorflow itself; please report it
  batch_failed,      ///< a batch's failure policy was not met (quorum, error rate)
  timeout,           ///< one attempt took longer than its attempt_timeout
  server_error,      ///< a server answered 5xx
  connection_failed, ///< no connection to a server, or it broke mid-request
  bad_request,       ///< a server refused the request itself (4xx other than 429)
  circuit_open,      ///< too many recent failures under one supervisor: failing fast
  bad_response,      ///< a server's answer could not be understood (malformed, fields missing)
  budget_exhausted,  ///< the run's token budget is spent: no more model calls for it
  bad_output,        ///< a model's answer broke its required shape (schema) after repairs
};

/// The name of `code`, e.g. "invalid_flow".
[[nodiscard]] std::string_view to_string(Errc code) noexcept;

/// Whether a retry of the same work could succeed. Transient: timeout, rate_limited,
/// server_error, connection_failed, bad_response (an overloaded server or proxy that cut or
/// garbled its answer), unavailable, peer_lost (a child actor or node that died),
/// and node_threw (an exception from exec: as in PocketFlow, exec is what gets retried; a
/// RetryPolicy's `retry_on` can say otherwise). Not: bad_input, bad_request, cancelled,
/// deadline_exceeded (nothing may run after it), circuit_open and the rest.
[[nodiscard]] bool is_retryable(Errc code) noexcept;

/// A failure: a code for programs and a message for people.
struct Error {
  Error() = default;
  Error(Errc error_code, std::string text,
        std::optional<std::chrono::milliseconds> wait_before_retry = std::nullopt)
      : code(error_code), message(std::move(text)), retry_after(wait_before_retry) {}

  Errc code = Errc::internal;
  std::string message;
  /// When the failing party said when to try again (HTTP Retry-After): this wins over any
  /// computed backoff.
  std::optional<std::chrono::milliseconds> retry_after;

  /// "code: message", e.g. "invalid_flow: edge a -> b: no node 'b'".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const Error&, const Error&) = default;
};

/// Thrown by `Result::value()` on an error, and by node code that wants to fail with a
/// specific code: throwing `Failure{Error{Errc::bad_input, "..."}}` from exec makes the node
/// fail with exactly that error instead of `node_threw`.
class Failure : public std::runtime_error {
public:
  explicit Failure(Error error);
  [[nodiscard]] const Error& error() const noexcept { return error_; }

private:
  Error error_;
};

/// Holds either a `T` or an `Error` (GCC 12 has no `std::expected` in C++20).
template <class T>
class [[nodiscard]] Result {
public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}

  [[nodiscard]] bool ok() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; throws `Failure` carrying the error when there is none.
  [[nodiscard]] T& value() & {
    check();
    return std::get<0>(data_);
  }
  [[nodiscard]] const T& value() const& {
    check();
    return std::get<0>(data_);
  }
  [[nodiscard]] T&& value() && {
    check();
    return std::get<0>(std::move(data_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; precondition: `!ok()`.
  [[nodiscard]] const Error& error() const& { return std::get<1>(data_); }
  [[nodiscard]] Error&& error() && { return std::get<1>(std::move(data_)); }

private:
  void check() const {
    if (!ok())
      throw Failure(std::get<1>(data_));
  }
  std::variant<T, Error> data_;
};

/// A success without a value, or an error.
template <>
class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  /// Throws `Failure` when this holds an error.
  void value() const {
    if (!ok_)
      throw Failure(error_);
  }
  [[nodiscard]] const Error& error() const& { return error_; }

private:
  Error error_;
  bool ok_ = true;
};

} // namespace actorflow
