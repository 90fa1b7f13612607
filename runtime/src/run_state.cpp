#include "run_state.hpp"

#include <utility>

namespace actorflow::detail {

bool RunState::complete(Result<RunResult> result) {
  std::vector<Callback> to_call;
  std::function<void()> old_canceller;
  {
    std::lock_guard lock{mutex};
    if (outcome)
      return false;
    outcome.emplace(std::move(result));
    to_call.swap(callbacks);
    old_canceller.swap(canceller);
  }
  ended.notify_all();
  // outcome is never written again, so reading it without the lock is safe from here on.
  for (auto& callback : to_call)
    callback(*outcome);
  return true;
}

void RunState::on_complete(Callback callback) {
  {
    std::lock_guard lock{mutex};
    if (!outcome) {
      callbacks.push_back(std::move(callback));
      return;
    }
  }
  callback(*outcome);
}

void RunState::cancel() {
  std::function<void()> stop;
  {
    std::lock_guard lock{mutex};
    stop = canceller;
  }
  if (stop)
    stop();
}

void RunState::set_canceller(std::function<void()> stop) {
  std::lock_guard lock{mutex};
  if (!outcome)
    canceller = std::move(stop);
}

void RunState::drop_canceller() {
  std::function<void()> old;
  std::lock_guard lock{mutex};
  old.swap(canceller);
}

} // namespace actorflow::detail
