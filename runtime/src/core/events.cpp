#include <actorflow/events.hpp>

namespace actorflow {

std::string_view to_string(AttemptEvent::Kind kind) noexcept {
  switch (kind) {
    case AttemptEvent::Kind::failed:
      return "failed";
    case AttemptEvent::Kind::timed_out:
      return "timed_out";
    case AttemptEvent::Kind::retry_scheduled:
      return "retry_scheduled";
    case AttemptEvent::Kind::gave_up:
      return "gave_up";
    case AttemptEvent::Kind::fallback_used:
      return "fallback_used";
    case AttemptEvent::Kind::circuit_opened:
      return "circuit_opened";
    case AttemptEvent::Kind::circuit_rejected:
      return "circuit_rejected";
    case AttemptEvent::Kind::model_fallback:
      return "model_fallback";
  }
  return "unknown";
}

std::string_view to_string(SpanEvent::Kind kind) noexcept {
  switch (kind) {
    case SpanEvent::Kind::flow:
      return "flow";
    case SpanEvent::Kind::node:
      return "node";
    case SpanEvent::Kind::item:
      return "item";
    case SpanEvent::Kind::attempt:
      return "attempt";
    case SpanEvent::Kind::backoff:
      return "backoff";
    case SpanEvent::Kind::grant_wait:
      return "grant_wait";
    case SpanEvent::Kind::model_call:
      return "model_call";
  }
  return "unknown";
}

} // namespace actorflow
