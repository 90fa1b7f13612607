#include <actorflow/run_events.hpp>

#include "core/event_hub.hpp"

namespace actorflow {

std::string_view kind_name(const RunEvent& event) noexcept {
  static constexpr std::string_view names[] = {"node_started", "node_finished", "item_finished",
                                               "token",        "tool_called",   "tool_returned",
                                               "interrupt",    "run_finished"};
  static_assert(std::size(names) == std::variant_size_v<RunEvent::Body>);
  return names[event.body.index()];
}

EventStream::EventStream(std::shared_ptr<detail::EventHub> hub) : hub_(std::move(hub)) {}

std::optional<RunEvent> EventStream::next() {
  return hub_ ? hub_->next(std::nullopt) : std::nullopt;
}

std::optional<RunEvent> EventStream::next_for(std::chrono::milliseconds timeout) {
  return hub_ ? hub_->next(timeout) : std::nullopt;
}

std::optional<RunEvent> EventStream::try_next() { return hub_ ? hub_->try_next() : std::nullopt; }

bool EventStream::ended() const { return !hub_ || hub_->ended(); }

EventStreamStats EventStream::stats() const { return hub_ ? hub_->stats() : EventStreamStats{}; }

bool EventStream::NextAwaiter::await_ready() { return !hub_; }

bool EventStream::NextAwaiter::await_suspend(std::coroutine_handle<> h) {
  return hub_->wait_async(h, std::move(post_));
}

std::optional<RunEvent> EventStream::NextAwaiter::await_resume() {
  return hub_ ? hub_->try_next() : std::nullopt;
}

} // namespace actorflow
