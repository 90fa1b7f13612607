#pragma once
/// `ActorRef`: a handle to a helper actor that node code can `co_await` replies from.

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <functional>
#include <memory>

namespace actorflow {

namespace detail {
struct ActorSlot;
}

/// Answers one request: a Value in, a Value or an Error out. Runs inside its actor, one
/// request at a time, so it may keep mutable state in its captures without locks.
using ActorHandler = std::function<Result<Value>(const Value& request)>;

/// A handle to an actor made by `Runtime::spawn_actor`. Cheap to copy; usable from any
/// thread. Once its Runtime is gone, asks fail with `Errc::cancelled`.
class ActorRef {
public:
  ActorRef() = default; ///< refers to nothing; asks fail with bad_input
  explicit ActorRef(std::shared_ptr<detail::ActorSlot> slot) : slot_(std::move(slot)) {}
  [[nodiscard]] bool valid() const noexcept { return slot_ != nullptr; }
  [[nodiscard]] const std::shared_ptr<detail::ActorSlot>& slot() const noexcept { return slot_; }

private:
  std::shared_ptr<detail::ActorSlot> slot_;
};

} // namespace actorflow
