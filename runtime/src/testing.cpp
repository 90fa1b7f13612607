#include <actorflow/testing.hpp>

#include "actors/scheduler/virtual_clock.hpp"

#include <coroutine>

namespace actorflow::testing {

// -- VirtualClock --------------------------------------------------------------------------------

VirtualClock::VirtualClock()
    : clock_(std::make_unique<detail::VirtualActorClock>()), origin_(clock_->now()) {}
VirtualClock::~VirtualClock() = default;

std::chrono::nanoseconds VirtualClock::elapsed() const { return clock_->now() - origin_; }

std::size_t VirtualClock::pending() const {
  return clock_->locked([&] { return clock_->schedule().size(); });
}

std::optional<std::chrono::nanoseconds> VirtualClock::next_due() const {
  return clock_->locked([&]() -> std::optional<std::chrono::nanoseconds> {
    if (clock_->schedule().empty())
      return std::nullopt;
    return clock_->schedule().begin()->first - origin_;
  });
}

std::size_t VirtualClock::advance(std::chrono::nanoseconds delta) {
  return clock_->locked([&] { return clock_->advance_time(delta); });
}

bool VirtualClock::wait_until_idle(std::chrono::milliseconds bound) const {
  return clock_->wait_idle(bound);
}

std::optional<std::chrono::nanoseconds> VirtualClock::advance_to_next() {
  clock_->wait_idle(std::chrono::seconds(10));
  return clock_->locked([&]() -> std::optional<std::chrono::nanoseconds> {
    if (clock_->schedule().empty())
      return std::nullopt;
    auto step = std::max(clock_->schedule().begin()->first - clock_->current_time,
                         detail::VirtualActorClock::duration_type{0});
    clock_->advance_time(step);
    return step;
  });
}

bool VirtualClock::wait_for_pending(std::size_t count, std::chrono::milliseconds bound) const {
  return clock_->wait_until([&] { return clock_->schedule().size() >= count; }, bound);
}

// -- ScriptedModel -------------------------------------------------------------------------------

ModelStep ModelStep::answer(Value value, std::chrono::milliseconds latency) {
  ModelStep step;
  step.reply = std::move(value);
  step.latency = latency;
  return step;
}

ModelStep ModelStep::rate_limited(std::chrono::milliseconds retry_after,
                                  std::chrono::milliseconds latency) {
  Error error{Errc::rate_limited, "429 Too Many Requests (scripted)"};
  error.retry_after = retry_after;
  return failure(std::move(error), latency);
}

ModelStep ModelStep::server_error(std::chrono::milliseconds latency) {
  return failure(Error{Errc::server_error, "500 Internal Server Error (scripted)"}, latency);
}

ModelStep ModelStep::failure(Error error, std::chrono::milliseconds latency) {
  ModelStep step;
  step.kind = Kind::fail;
  step.error = std::move(error);
  step.latency = latency;
  return step;
}

ModelStep ModelStep::hang() {
  ModelStep step;
  step.kind = Kind::hang;
  return step;
}

ScriptedModel::ScriptedModel(std::deque<ModelStep> script) : script_(std::move(script)) {}

ModelStep ScriptedModel::next_step() {
  std::lock_guard lock{mutex_};
  ++calls_;
  if (script_.empty())
    return ModelStep::failure(Error{Errc::bad_input, "ScriptedModel: the script is empty"});
  auto step = script_.front();
  if (script_.size() > 1)
    script_.pop_front();
  return step;
}

Task<Result<Value>> ScriptedModel::call(Context& ctx) {
  auto step = next_step();
  if (step.kind == ModelStep::Kind::hang)
    co_await std::suspend_always{}; // resumed never: the caller is abandoned or killed
  if (step.latency.count() > 0)
    co_await ctx.sleep(step.latency);
  if (step.kind == ModelStep::Kind::fail)
    co_return step.error;
  co_return step.reply;
}

std::size_t ScriptedModel::calls() const {
  std::lock_guard lock{mutex_};
  return calls_;
}

detail::SleepAwaiter crash_this_actor(Context& ctx) {
  ctx.host_->crash_self();
  // Suspends on a timer that never matters: the kill arrives first and ends the actor.
  return ctx.sleep(std::chrono::hours(24 * 365));
}

} // namespace actorflow::testing
