#include <actorflow/result.hpp>

namespace actorflow {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_flow:
      return "invalid_flow";
    case Errc::bad_input:
      return "bad_input";
    case Errc::node_threw:
      return "node_threw";
    case Errc::cancelled:
      return "cancelled";
    case Errc::deadline_exceeded:
      return "deadline_exceeded";
    case Errc::step_limit:
      return "step_limit";
    case Errc::unavailable:
      return "unavailable";
    case Errc::rate_limited:
      return "rate_limited";
    case Errc::peer_lost:
      return "peer_lost";
    case Errc::internal:
      return "internal";
    case Errc::batch_failed:
      return "batch_failed";
    case Errc::timeout:
      return "timeout";
    case Errc::server_error:
      return "server_error";
    case Errc::connection_failed:
      return "connection_failed";
    case Errc::bad_request:
      return "bad_request";
    case Errc::circuit_open:
      return "circuit_open";
    case Errc::bad_response:
      return "bad_response";
    case Errc::budget_exhausted:
      return "budget_exhausted";
    case Errc::bad_output:
      return "bad_output";
  }
  // Codes travel between processes, so a newer peer may send a number this build does not know;
  // printing it must not be undefined behaviour.
  return "unknown";
}

bool is_retryable(Errc code) noexcept {
  switch (code) {
    case Errc::timeout:
    case Errc::node_threw:
    case Errc::rate_limited:
    case Errc::server_error:
    case Errc::connection_failed:
    case Errc::bad_response:
    case Errc::unavailable:
    case Errc::peer_lost:
      return true;
    default:
      return false;
  }
}

std::string Error::to_string() const {
  // Qualified: the member name hides the free function.
  std::string text(actorflow::to_string(code));
  if (!message.empty()) {
    text += ": ";
    text += message;
  }
  return text;
}

// The base is built from `error` before the member takes it over (bases initialise first).
Failure::Failure(Error error) : std::runtime_error(error.to_string()), error_(std::move(error)) {}

} // namespace actorflow
