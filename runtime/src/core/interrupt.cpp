#include <actorflow/interrupt.hpp>

namespace actorflow {

std::string_view to_string(InterruptStatus status) noexcept {
  switch (status) {
    case InterruptStatus::pending:
      return "pending";
    case InterruptStatus::answered:
      return "answered";
    case InterruptStatus::defaulted:
      return "defaulted";
    case InterruptStatus::expired:
      return "expired";
    case InterruptStatus::cancelled:
      return "cancelled";
  }
  return "unknown";
}

} // namespace actorflow
