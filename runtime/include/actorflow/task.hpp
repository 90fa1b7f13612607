#pragma once
/// `Task<T>`: the coroutine type of node code.
///
/// The problem: a node's exec waits for model calls, timers and other actors, and a
/// scheduler thread that waits is lost to every other actor. A `Task` is a lazy C++20
/// coroutine; `co_await` on something the runtime provides (see `Context`) suspends the
/// coroutine and returns the thread to the scheduler. When the awaited event arrives as a
/// message to the node's actor, the actor resumes the coroutine inside its own message
/// handler, so node code never runs concurrently with itself and needs no locks.
///
/// Guarantees: a Task starts only when awaited (or when the runtime starts a node's exec);
/// `co_await task` yields its value or rethrows its exception; a Task may be awaited once.
/// Destroying a suspended Task destroys its frame and every frame it is awaiting, which is how
/// a cancelled node's coroutine is torn down without running further.

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace actorflow {

template <class T>
class Task;

namespace detail {

/// Ends a finished task by resuming its awaiter (symmetric transfer: deep await chains do not
/// grow the stack).
struct ResumeAwaiter {
  std::coroutine_handle<> continuation;
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  [[nodiscard]] std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
    return continuation;
  }
  void await_resume() const noexcept {}
};

/// Shared promise part: the awaiting coroutine to resume when this one finishes.
struct TaskPromiseBase {
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr exception;

  std::suspend_always initial_suspend() noexcept { return {}; }
  ResumeAwaiter final_suspend() noexcept { return {continuation}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> result;
  Task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& value) {
    result.emplace(std::forward<U>(value));
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

} // namespace detail

/// A lazy coroutine producing a `T` (or an exception). Move-only.
template <class T = void>
class [[nodiscard]] Task {
public:
  using promise_type = detail::TaskPromise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(handle_type h) noexcept : h_(h) {}
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  // -- awaiting from another coroutine --------------------------------------------------------

  [[nodiscard]] bool await_ready() const noexcept { return !h_ || h_.done(); }
  [[nodiscard]] std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    h_.promise().continuation = awaiter;
    return h_; // start (or continue) this task; it resumes `awaiter` when it finishes
  }
  T await_resume() { return take(); }

  // -- driving from the runtime (a node actor starts the outermost Task) --------------------

  /// Whether this holds a coroutine.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }
  /// Whether the coroutine ran to its end (value or exception).
  [[nodiscard]] bool done() const noexcept { return h_ && h_.done(); }
  /// Runs the coroutine until its first suspension or its end. Precondition: not started.
  void start() { h_.resume(); }
  /// The result; rethrows the coroutine's exception. Precondition: `done()`.
  T take() {
    auto& p = h_.promise();
    if (p.exception)
      std::rethrow_exception(p.exception);
    if constexpr (!std::is_void_v<T>)
      return std::move(*p.result);
  }

private:
  void reset() noexcept {
    if (h_)
      h_.destroy();
    h_ = {};
  }
  handle_type h_;
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>{std::coroutine_handle<TaskPromise<T>>::from_promise(*this)};
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>{std::coroutine_handle<TaskPromise<void>>::from_promise(*this)};
}
} // namespace detail

} // namespace actorflow
