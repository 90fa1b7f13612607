#pragma once
/// Internal: the awaitable objects `Context` returns. Each suspends the node's coroutine and
/// asks the actor that runs it (`ExecHost`) to resume it, from its own mailbox, once the
/// outcome is there.

#include <actorflow/detail/exec_host.hpp>

#include <chrono>
#include <coroutine>
#include <functional>
#include <optional>
#include <utility>

namespace actorflow::detail {

/// Awaits one ExecHost operation that yields a `T`.
template <class T, class Start>
class HostAwaiter {
public:
  explicit HostAwaiter(Start start) : start_(std::move(start)) {}
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { start_(h, out_); }
  T await_resume() { return std::move(*out_); }

private:
  Start start_;
  std::optional<T> out_;
};

/// Awaits a timer of the ExecHost.
class SleepAwaiter {
public:
  SleepAwaiter(ExecHost& host, std::chrono::nanoseconds delay) : host_(&host), delay_(delay) {}
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { host_->sleep(delay_, h); }
  void await_resume() const noexcept {}

private:
  ExecHost* host_;
  std::chrono::nanoseconds delay_;
};

/// Awaits an outside operation through ExecHost::await_external.
class ExternalAwaiter {
public:
  ExternalAwaiter(ExecHost& host, std::function<void(std::function<void()> wake)> start)
      : host_(&host), start_(std::move(start)) {}
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { host_->await_external(std::move(start_), h); }
  void await_resume() const noexcept {}

private:
  ExecHost* host_;
  std::function<void(std::function<void()> wake)> start_;
};

} // namespace actorflow::detail
