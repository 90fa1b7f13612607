#include "core/event_hub.hpp"

#include <algorithm>
#include <utility>

namespace actorflow::detail {

namespace {

std::string source_key(std::string_view node, std::optional<std::size_t> item) {
  std::string key(node);
  key += '\x1f';
  if (item)
    key += std::to_string(*item);
  return key;
}

} // namespace

EventHub::EventHub(StreamMode modes, Callback callback, Clock now)
    : modes_(modes), callback_(std::move(callback)), now_(std::move(now)), origin_(now_()) {}

std::chrono::nanoseconds EventHub::since_start() const { return now_() - origin_; }

void EventHub::emit(std::string node, std::optional<std::size_t> item, RunEvent::Body body) {
  RunEvent event{0, std::move(node), item, since_start(), std::move(body)};
  if (callback_)
    return call_back(std::move(event));
  std::unique_lock lock{mutex_};
  if (finished_)
    return;
  if (!last_token_.empty()) // a later token of this source must not merge across this event
    last_token_.erase(source_key(event.node, event.item));
  auto waiter = push(std::move(event));
  wake(lock, std::move(waiter));
}

void EventHub::token(std::string_view node, std::optional<std::size_t> item,
                     std::string_view text) {
  if (callback_)
    return call_back(
        RunEvent{0, std::string(node), item, since_start(), TokenPiece{std::string(text)}});
  auto key = source_key(node, item);
  std::unique_lock lock{mutex_};
  if (finished_)
    return;
  if (auto it = last_token_.find(key); it != last_token_.end() && !queue_.empty()) {
    const auto front = queue_.front().seq;
    if (it->second >= front && it->second - front < queue_.size()) {
      auto& queued = queue_[it->second - front];
      std::get<TokenPiece>(queued.body).text += text;
      ++stats_.merged;
      return;
    }
  }
  RunEvent event{0, std::string(node), item, since_start(), TokenPiece{std::string(text)}};
  auto waiter = push(std::move(event));
  last_token_[std::move(key)] = queue_.back().seq;
  wake(lock, std::move(waiter));
}

void EventHub::finish(RunFinished finished) {
  RunEvent event{0, {}, std::nullopt, since_start(), std::move(finished)};
  if (callback_) {
    {
      std::unique_lock lock{mutex_};
      if (finished_)
        return;
      finished_ = true;
      // Callbacks under way on other threads (a late token, an answer's report) end first:
      // RunFinished is the last call, and after it the host may tear down what they use.
      callbacks_done_.wait(lock, [&] { return callbacks_in_flight_ == 0; });
      event.seq = next_seq_++;
      ++stats_.queued;
    }
    callback_(event);
    return;
  }
  std::unique_lock lock{mutex_};
  if (finished_)
    return;
  auto waiter = push(std::move(event));
  finished_ = true;
  wake(lock, std::move(waiter));
}

void EventHub::call_back(RunEvent event) {
  {
    std::lock_guard lock{mutex_};
    if (finished_)
      return;
    event.seq = next_seq_++;
    ++stats_.queued;
    ++callbacks_in_flight_;
  }
  struct Done { // also when the callback throws
    EventHub* hub;
    ~Done() {
      std::lock_guard lock{hub->mutex_};
      if (--hub->callbacks_in_flight_ == 0 && hub->finished_)
        hub->callbacks_done_.notify_all();
    }
  } done{this};
  callback_(event);
}

std::optional<EventHub::Waiter> EventHub::push(RunEvent event) {
  event.seq = next_seq_++;
  queue_.push_back(std::move(event));
  ++stats_.queued;
  stats_.max_buffered = std::max<std::uint64_t>(
      stats_.max_buffered, queue_.size() + local_unread_.load(std::memory_order_relaxed));
  return std::exchange(async_waiter_, std::nullopt);
}

void EventHub::wake(std::unique_lock<std::mutex>& lock, std::optional<Waiter> waiter) {
  // A blocked reader is woken by the first event after it emptied the queue, then once a
  // batch has gathered (or the run ended): one wake-up per batch of events, not per event.
  const auto queued = queue_.size();
  const bool notify = blocked_readers_ > 0 && (queued == 1 || queued == wake_batch || finished_);
  lock.unlock();
  if (notify)
    readable_.notify_all();
  if (waiter)
    waiter->post([h = waiter->handle] { h.resume(); });
}

std::optional<RunEvent> EventHub::take_local() {
  auto event = std::move(local_[local_next_++]);
  local_unread_.store(local_.size() - local_next_, std::memory_order_relaxed);
  if (std::holds_alternative<RunFinished>(event.body))
    finish_read_.store(true, std::memory_order_release);
  return event;
}

bool EventHub::refill() {
  if (queue_.empty())
    return false;
  local_.clear();
  local_next_ = 0;
  local_.swap(queue_);
  last_token_.clear(); // what a reader holds is no longer merged into
  local_unread_.store(local_.size(), std::memory_order_relaxed);
  return true;
}

std::optional<RunEvent> EventHub::next(std::optional<std::chrono::milliseconds> timeout) {
  if (callback_)
    return std::nullopt;
  std::lock_guard reader{reader_mutex_};
  if (finish_read_.load(std::memory_order_acquire))
    return std::nullopt;
  if (local_next_ < local_.size())
    return take_local(); // what the last refill took: no lock the producers use
  std::unique_lock lock{mutex_};
  auto ready = [&] { return !queue_.empty() || finished_; };
  if (!ready()) {
    const auto deadline =
        std::chrono::steady_clock::now() + timeout.value_or(std::chrono::hours(1));
    ++blocked_readers_;
    while (!ready()) {
      if (timeout) {
        if (!readable_.wait_until(lock, deadline, ready))
          break;
      } else {
        readable_.wait(lock, ready);
      }
      if (!finished_ && queue_.size() < wake_batch)
        // Woken by a first event: let a batch gather for a moment, so that a reader faster
        // than the run is not woken (a system call on the producer's side) for every event.
        readable_.wait_for(lock, linger, [&] { return finished_ || queue_.size() >= wake_batch; });
    }
    --blocked_readers_;
    if (!ready())
      return std::nullopt; // timed out
  }
  if (!refill()) { // finished, and everything read
    finish_read_.store(true, std::memory_order_release);
    return std::nullopt;
  }
  lock.unlock();
  return take_local();
}

std::optional<RunEvent> EventHub::try_next() { return next(std::chrono::milliseconds(0)); }

bool EventHub::ended() const { return callback_ || finish_read_.load(std::memory_order_acquire); }

EventStreamStats EventHub::stats() const {
  std::lock_guard lock{mutex_};
  auto stats = stats_;
  stats.buffered = queue_.size() + local_unread_.load(std::memory_order_relaxed);
  return stats;
}

bool EventHub::wait_async(std::coroutine_handle<> h,
                          std::function<void(std::function<void()>)> post) {
  if (callback_)
    return false;
  std::lock_guard reader{reader_mutex_};
  if (finish_read_.load(std::memory_order_acquire) || local_next_ < local_.size())
    return false;
  std::lock_guard lock{mutex_};
  if (!queue_.empty() || finished_)
    return false;
  async_waiter_ = Waiter{h, std::move(post)};
  return true;
}

} // namespace actorflow::detail
