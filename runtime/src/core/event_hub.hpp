#pragma once
// Where a run's events go: the host's callback, or a queue that the run's EventStreams read.
// Written from any runtime thread (actors, provider I/O threads), read from host threads.
// See actorflow/run_events.hpp for what a reader is promised.

#include <actorflow/run_events.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actorflow::detail {

class EventHub {
public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Callback = std::function<void(const RunEvent&)>;

  /// `modes`: what the run streams besides interrupts and its end. With `callback`, every
  /// event goes to it (on the producing thread) and nothing is queued. `now`: the runtime's
  /// clock (events are stamped from its value at construction).
  EventHub(StreamMode modes, Callback callback, Clock now);
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  [[nodiscard]] bool wants(StreamMode mode) const noexcept { return has(modes_, mode); }
  [[nodiscard]] StreamMode modes() const noexcept { return modes_; }

  /// Queues (or calls back with) one event of node `node`, item `item`. Ignored once the
  /// run has finished.
  void emit(std::string node, std::optional<std::size_t> item, RunEvent::Body body);
  /// A piece of model text: appended to its source's latest queued event when that is an
  /// unread token event, else queued as a new one.
  void token(std::string_view node, std::optional<std::size_t> item, std::string_view text);
  /// The run's last event; nothing is queued after it.
  void finish(RunFinished finished);

  // -- the reading side (EventStream) ----------------------------------------------------

  /// `timeout` none: waits as long as needed.
  [[nodiscard]] std::optional<RunEvent> next(std::optional<std::chrono::milliseconds> timeout);
  [[nodiscard]] std::optional<RunEvent> try_next();
  [[nodiscard]] bool ended() const;
  [[nodiscard]] EventStreamStats stats() const;
  /// Registers a coroutine to resume (through `post`) when an event is queued or the stream
  /// ends; false when one is readable already (then it does not wait).
  [[nodiscard]] bool wait_async(std::coroutine_handle<> h,
                                std::function<void(std::function<void()>)> post);

private:
  struct Waiter {
    std::coroutine_handle<> handle;
    std::function<void(std::function<void()>)> post;
  };

  // Hands `event` to the callback, counted as in flight meanwhile.
  void call_back(RunEvent event);
  // Queues `event` (the lock held); returns a coroutine waiter to wake after unlocking.
  std::optional<Waiter> push(RunEvent event);
  void wake(std::unique_lock<std::mutex>& lock, std::optional<Waiter> waiter);
  // The reader's side (reader_mutex_ held): the next event of local_ (one is there), and
  // taking all of queue_ into local_ (mutex_ held too; false when queue_ is empty).
  std::optional<RunEvent> take_local();
  bool refill();
  [[nodiscard]] std::chrono::nanoseconds since_start() const;

  // A blocked reader is woken by the first event, then by the `wake_batch`th; after the first
  // it waits up to `linger` for the batch (a delay no person sees).
  static constexpr std::size_t wake_batch = 256;
  static constexpr std::chrono::microseconds linger{500};

  const StreamMode modes_;
  const Callback callback_;
  const Clock now_;
  const std::chrono::steady_clock::time_point origin_;

  mutable std::mutex mutex_;
  std::condition_variable readable_;
  std::size_t blocked_readers_ = 0; // waiting on readable_: a push notifies only then
  std::size_t callbacks_in_flight_ = 0;
  std::condition_variable callbacks_done_; // finish() waits for callbacks_in_flight_ == 0
  std::optional<Waiter> async_waiter_;
  std::uint64_t next_seq_ = 1;
  bool finished_ = false;
  std::atomic<bool> finish_read_{false}; // RunFinished taken by the reader
  // Unread events: queue_ (guarded by mutex_) holds what producers may still merge into; the
  // reader takes all of it at once into local_ (the two vectors swap, so both keep their
  // capacity: no allocation per event once grown) and reads local_ from local_next_ on under
  // reader_mutex_ alone, out of the producers' way. One reader at a time (reader_mutex_ is
  // held while it waits); lock order: reader_mutex_, then mutex_.
  std::vector<RunEvent> queue_;
  std::mutex reader_mutex_;
  std::vector<RunEvent> local_;              // guarded by reader_mutex_
  std::size_t local_next_ = 0;               // guarded by reader_mutex_
  std::atomic<std::size_t> local_unread_{0}; // local_'s unread count, for stats
  // Per token source ("node\x1fitem"): the seq of its latest queued event, when that is a
  // token event still in queue_. Entries for other events are erased; all go when queue_
  // is taken by a reader.
  std::unordered_map<std::string, std::uint64_t> last_token_;
  EventStreamStats stats_;
};

} // namespace actorflow::detail
