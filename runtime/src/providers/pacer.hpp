#pragma once
// Streams answers a word at a time at a fixed pace from one thread, for the local provider's
// `stream_interval`: each stream hands out its next piece when due, then completes.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

namespace actorflow::detail {

class Pacer {
public:
  explicit Pacer(std::chrono::microseconds interval);
  /// Sends every stream's remaining pieces at once and completes it, then stops the thread.
  ~Pacer();
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  /// Hands `pieces` to `on_piece` one per interval, the first one interval from now, then
  /// calls `done`; all on the pacer's thread.
  void stream(std::vector<std::string> pieces, std::function<void(std::string_view)> on_piece,
              std::function<void()> done);

private:
  struct Stream {
    std::vector<std::string> pieces;
    std::size_t next = 0;
    std::function<void(std::string_view)> on_piece;
    std::function<void()> done;
  };
  struct Due {
    std::chrono::steady_clock::time_point at;
    std::uint64_t order; // streams due at once go in the order they came
    std::shared_ptr<Stream> stream;
    bool operator>(const Due& other) const {
      return at != other.at ? at > other.at : order > other.order;
    }
  };

  void loop();

  const std::chrono::microseconds interval_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_; // guarded by mutex_
  std::uint64_t next_order_ = 0;                                   // guarded by mutex_
  bool stopping_ = false;                                          // guarded by mutex_
  std::thread thread_; // last: started once the members above exist
};

} // namespace actorflow::detail
