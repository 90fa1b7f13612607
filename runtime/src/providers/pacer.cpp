#include "providers/pacer.hpp"

#include <memory>

namespace actorflow::detail {

Pacer::Pacer(std::chrono::microseconds interval)
    : interval_(interval), thread_([this] { loop(); }) {}

Pacer::~Pacer() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  changed_.notify_one();
  thread_.join();
}

void Pacer::stream(std::vector<std::string> pieces, std::function<void(std::string_view)> on_piece,
                   std::function<void()> done) {
  auto stream =
      std::make_shared<Stream>(Stream{std::move(pieces), 0, std::move(on_piece), std::move(done)});
  {
    std::lock_guard lock{mutex_};
    due_.push(Due{std::chrono::steady_clock::now() + interval_, next_order_++, std::move(stream)});
  }
  changed_.notify_one();
}

void Pacer::loop() {
  std::unique_lock lock{mutex_};
  while (true) {
    if (stopping_) {
      // Every stream ends now: its remaining pieces at once, then its completion.
      while (!due_.empty()) {
        auto stream = due_.top().stream;
        due_.pop();
        lock.unlock();
        for (; stream->next < stream->pieces.size(); ++stream->next)
          stream->on_piece(stream->pieces[stream->next]);
        stream->done();
        lock.lock();
      }
      return;
    }
    if (due_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto at = due_.top().at;
    if (std::chrono::steady_clock::now() < at) {
      changed_.wait_until(lock, at);
      continue;
    }
    auto item = due_.top();
    due_.pop();
    lock.unlock();
    auto& stream = *item.stream;
    if (stream.next < stream.pieces.size())
      stream.on_piece(stream.pieces[stream.next++]);
    const bool more = stream.next < stream.pieces.size();
    if (!more)
      stream.done();
    lock.lock();
    if (more)
      due_.push(Due{at + interval_, next_order_++, std::move(item.stream)});
  }
}

} // namespace actorflow::detail
