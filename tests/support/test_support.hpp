#pragma once
// Small helpers shared by the test areas that run flows, pipelines and stores.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace actorflow::testing_support {

inline RuntimeConfig two_workers() {
  return RuntimeConfig{.worker_threads = 2, .nodes = {}, .log = {}};
}

/// The value of `result`; fails the test with the error if there is none.
template <class T>
requires(!std::is_void_v<T>) T must(Result<T> result) {
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().to_string()));
  return std::move(*result);
}

/// Fails the test with the error of `result`, if it has one.
inline void must(const Result<void>& result) {
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().to_string()));
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

/// A fresh directory under the system's temp directory, removed with everything in it.
class TempDir {
public:
  TempDir() {
    std::random_device random;
    const auto tag = (std::uint64_t{random()} << 32U) ^ random();
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = std::filesystem::temp_directory_path() /
            ("actorflow-test-" + std::to_string(now) + "-" + std::to_string(tag));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// Writes `bytes` to `path` exactly (binary), replacing the file and creating its directory.
inline void write_text(const std::filesystem::path& path, std::string_view bytes) {
  if (path.has_parent_path())
    std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE_MESSAGE(out.good(), "cannot write " << path.string());
}

/// The bytes of the file at `path`; fails the test if it cannot be opened.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.is_open(), "cannot read " << path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Waits (with a bound) until `pred` holds; the event comes from another thread.
/// Events a run's hook hands over (on runtime threads, several at once), kept in order.
template <class Event>
class Collected {
public:
  /// For RunOptions::on_progress, on_model_call, ...; `this` must outlive the run.
  std::function<void(const Event&)> hook() {
    return [this](const Event& event) {
      std::lock_guard guard{mutex_};
      events_.push_back(event);
    };
  }
  [[nodiscard]] std::vector<Event> events() const {
    std::lock_guard guard{mutex_};
    return events_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::seconds bound = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::yield();
  }
  return true;
}

/// Moves virtual time from timer to timer until `run` ends (bounded in real time), and
/// returns its result. Timers fire in due order, as real time would fire them.
inline Result<RunResult> drive(const RunHandle& run, testing::VirtualClock& clock,
                               std::chrono::seconds bound = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (!run.done()) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, "the run did not end in time");
    REQUIRE(clock.wait_until_idle());
    if (!run.done())
      REQUIRE_MESSAGE(clock.advance_to_next(), "the run waits, but on no timer");
  }
  return run.get();
}

} // namespace actorflow::testing_support
