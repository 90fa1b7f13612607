#pragma once
/// A run's events, delivered to the host as they happen: to `RunOptions::on_event`, or queued
/// for the pull-based `EventStream` of its handle (`RunHandle::events`), which a host loop or a
/// C++20 coroutine reads.
///
/// ```cpp
/// auto run = runtime.run(flow, state, {.stream = StreamMode::tokens | StreamMode::updates});
/// auto events = run.events();
/// while (auto event = events.next())
///   if (auto* piece = std::get_if<TokenPiece>(&event->body))
///     std::cout << "[" << event->item.value_or(0) << "] " << piece->text;
/// ```
///
/// Modes, as LangGraph users know them (combine with `|`):
/// - `values`: after every node, the whole State it left (`NodeFinished::state`);
/// - `updates`: after every node, only what it changed (`NodeFinished::changes`);
/// - `tokens`: the text of every model call as it arrives, from any node at any depth, batch
///   items and sub-flows included (`TokenPiece`); calls are streamed from the provider only
///   while this mode is on;
/// - `items`: every batch item's outcome when it settles (`ItemFinished`);
/// - `tools`: every tool call and its result (`ToolCalled`, `ToolReturned`);
/// - `debug`: all of the above, and `NodeStarted`.
/// Interrupt events and the final `RunFinished` are always delivered.
///
/// Labels: `node` is the path of the node the event comes from ("outer/inner"), `item` the
/// index of the batch item it belongs to, also for nodes and model calls inside that item's
/// sub-flows.
///
/// A slow reader. The producer (a scheduler thread, a provider's I/O thread) never waits for
/// the reader: it appends under a short lock and returns. A token piece whose source (node,
/// item) still has an unread token event as its latest queued event is appended to it rather
/// than queued anew, so tokens cost one queued event per source between two other events of
/// that source, however many pieces arrive; other events are never dropped or merged. The
/// number of queued events is therefore bounded by the run's other events (a few per node and
/// item), not by its model output or the reader's speed; the bytes of unread merged text are
/// the model's output itself, kept until read. `EventStream::stats` counts what was queued
/// and merged.
///
/// Not streamed: what batch items run on cluster nodes do inside (their ItemFinished is); and a
/// turn's ToolReturned events come together once every call of that turn has ended.
/// With `on_event`, the callback is never called again once RunFinished has been delivered
/// (calls under way on other threads end first); an exception it throws is its own bug.

#include <actorflow/interrupt.hpp>
#include <actorflow/result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace actorflow {

namespace detail {
class EventHub;
} // namespace detail

/// Which events a run streams; combine with `|`.
enum class StreamMode : std::uint8_t {
  none = 0,
  values = 1U << 0U,
  updates = 1U << 1U,
  tokens = 1U << 2U,
  items = 1U << 3U,
  tools = 1U << 4U,
  debug = 0x3FU, ///< everything, NodeStarted included
};
[[nodiscard]] constexpr StreamMode operator|(StreamMode a, StreamMode b) noexcept {
  return static_cast<StreamMode>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
/// Whether `modes` includes every bit of `mode`.
[[nodiscard]] constexpr bool has(StreamMode modes, StreamMode mode) noexcept {
  return (static_cast<std::uint8_t>(modes) & static_cast<std::uint8_t>(mode)) ==
             static_cast<std::uint8_t>(mode) &&
         mode != StreamMode::none;
}

/// A node began (debug).
struct NodeStarted {};
/// A node ended, its post included (values, updates). A nested flow is a node of its parent.
struct NodeFinished {
  std::string action{};         ///< the action its post returned
  std::optional<Error> error{}; ///< it failed (the run fails with it unless a parent copes)
  /// updates: the keys it set or changed, with their new values, and the keys it removed,
  /// with null. Empty when it changed nothing (or in values mode alone).
  Map changes{};
  /// values: the whole State after it.
  std::optional<State> state{};
};
/// A batch item settled (items): its final outcome, after every retry.
struct ItemFinished {
  std::variant<Value, Error> result{};
  std::uint32_t attempts = 0;
};
/// Text of a model call as it arrives (tokens); consecutive pieces may arrive merged.
struct TokenPiece {
  std::string text{};
};
/// The model called a tool (tools); sent before the tool runs.
struct ToolCalled {
  std::string call_id{};
  std::string tool{};
  std::string arguments{}; ///< as the model wrote them (JSON text)
};
/// A tool call ended (tools): what goes back to the model.
struct ToolReturned {
  std::string call_id{};
  std::string tool{};
  std::string content{}; ///< the tool message's text ("Error: ..." when it failed)
  bool failed = false;
};
/// An interrupt was raised, or settled (answered, defaulted, expired, cancelled).
struct InterruptEvent {
  Interrupt interrupt{};
  /// The run's name (`RunHandle::name`): a callback can answer with
  /// `Runtime::answer(run, interrupt.id, ...)` before `Runtime::run` has returned the handle.
  std::string run{};
};
/// The run ended; always the last event of its stream.
struct RunFinished {
  std::optional<Error> error{}; ///< none when it succeeded
  State state{};                ///< the final State when it succeeded
};

struct RunEvent {
  using Body = std::variant<NodeStarted, NodeFinished, ItemFinished, TokenPiece, ToolCalled,
                            ToolReturned, InterruptEvent, RunFinished>;

  std::uint64_t seq = 0;           ///< 1, 2, ... in the order the run queued them
  std::string node{};              ///< the node's path; "" for RunFinished
  std::optional<std::size_t> item; ///< the batch item it belongs to
  std::chrono::nanoseconds at{0};  ///< since the run started, on the runtime's clock
  Body body{};
};

/// "node_started", "node_finished", "item_finished", "token", "tool_called",
/// "tool_returned", "interrupt", "run_finished".
[[nodiscard]] std::string_view kind_name(const RunEvent& event) noexcept;

/// What a stream has seen so far.
struct EventStreamStats {
  std::uint64_t queued = 0;       ///< events queued (merged token pieces not counted)
  std::uint64_t merged = 0;       ///< token pieces appended to a queued token event
  std::uint64_t max_buffered = 0; ///< the most events queued and unread at once
  std::uint64_t buffered = 0;     ///< queued and unread now
};

/// The pull side of a run's events (`RunHandle::events`). Copies read the same queue: read it
/// from one reader at a time (one thread, or one coroutine), which may move between threads.
/// Keep reading until `next` yields none (after `RunFinished`), or drop the stream.
class EventStream {
public:
  EventStream() = default; ///< no events: next() yields none at once
  explicit EventStream(std::shared_ptr<detail::EventHub> hub);

  /// The next event, waiting as long as needed; none once RunFinished has been read (or the
  /// run streams nothing to the handle). Never call it from inside a node.
  [[nodiscard]] std::optional<RunEvent> next();
  /// The next event if one comes within `timeout`; none otherwise (then check `ended`).
  [[nodiscard]] std::optional<RunEvent> next_for(std::chrono::milliseconds timeout);
  /// The next event if one is queued now.
  [[nodiscard]] std::optional<RunEvent> try_next();
  /// Whether RunFinished has been read (or there was never anything to read).
  [[nodiscard]] bool ended() const;
  [[nodiscard]] EventStreamStats stats() const;

  /// `co_await stream.next_async(post)` in a host coroutine: yields as `next` does without
  /// blocking a thread. When the coroutine has to wait, the thread that queues the next event
  /// (a runtime thread) hands its resumption to `post`, which must be quick and run it
  /// exactly once on the host's own thread or event loop.
  class NextAwaiter {
  public:
    NextAwaiter(std::shared_ptr<detail::EventHub> hub,
                std::function<void(std::function<void()>)> post)
        : hub_(std::move(hub)), post_(std::move(post)) {}
    [[nodiscard]] bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    std::optional<RunEvent> await_resume();

  private:
    std::shared_ptr<detail::EventHub> hub_;
    std::function<void(std::function<void()>)> post_;
  };
  [[nodiscard]] NextAwaiter next_async(std::function<void(std::function<void()>)> post) const {
    return {hub_, std::move(post)};
  }

private:
  std::shared_ptr<detail::EventHub> hub_;
};

} // namespace actorflow
