// RunHandle: what a host holds of a run it started, over the run's shared RunState.
#include <actorflow/runtime.hpp>

#include "run_state.hpp"

#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace actorflow {

RunHandle::RunHandle(std::shared_ptr<detail::RunState> state) : state_(std::move(state)) {}

Result<RunResult> RunHandle::get() const {
  if (!state_)
    return Error{Errc::bad_input, "RunHandle::get: the handle refers to no run"};
  std::unique_lock lock{state_->mutex};
  state_->ended.wait(lock, [&] { return state_->outcome.has_value(); });
  return *state_->outcome;
}

bool RunHandle::wait_for(std::chrono::milliseconds timeout) const {
  if (!state_)
    return true;
  std::unique_lock lock{state_->mutex};
  return state_->ended.wait_for(lock, timeout, [&] { return state_->outcome.has_value(); });
}

bool RunHandle::done() const {
  if (!state_)
    return true;
  std::lock_guard lock{state_->mutex};
  return state_->outcome.has_value();
}

void RunHandle::on_complete(std::function<void(const Result<RunResult>&)> callback) {
  if (!state_) {
    callback(Error{Errc::bad_input, "RunHandle::on_complete: the handle refers to no run"});
    return;
  }
  state_->on_complete(std::move(callback));
}

void RunHandle::cancel() {
  if (state_)
    state_->cancel();
}

std::uint64_t RunHandle::id() const { return state_ ? state_->id : 0; }

RunUsage RunHandle::usage() const { return state_ ? state_->meter->snapshot() : RunUsage{}; }

EventStream RunHandle::events() const { return EventStream(state_ ? state_->events : nullptr); }

std::vector<Interrupt> RunHandle::interrupts() const {
  return state_ && state_->interrupts ? state_->interrupts->pending() : std::vector<Interrupt>{};
}

Result<void> RunHandle::answer(std::string_view interrupt_id, Value answer) const {
  if (!state_ || !state_->interrupts)
    return Error{Errc::bad_input, "answer: the run has no interrupt '" + std::string(interrupt_id) +
                                      "' (it never started)"};
  return state_->interrupts->answer(interrupt_id, std::move(answer));
}

std::string RunHandle::name() const { return state_ ? state_->name : std::string(); }

} // namespace actorflow
