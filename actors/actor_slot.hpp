#pragma once
// What an ActorRef points to: the actor, for as long as its Runtime lives.

#include <caf/actor.hpp>

#include <mutex>

namespace actorflow::detail {

struct ActorSlot {
  /// The actor, or an invalid handle once the Runtime has shut down (so that no handle kept
  /// by the host outlives the actor system it belongs to).
  caf::actor get() {
    std::lock_guard lock{mutex};
    return actor;
  }
  void clear() {
    caf::actor old;
    {
      std::lock_guard lock{mutex};
      old.swap(actor);
    }
  }

  std::mutex mutex;
  caf::actor actor; // guarded by mutex
};

} // namespace actorflow::detail
