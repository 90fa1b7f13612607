#pragma once
/// `Context`: what a node's exec can reach while it runs inside its actor.

#include <actorflow/actor_ref.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <coroutine>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace actorflow {

class Flow;
class Context;

namespace detail {
class SleepAwaiter;
} // namespace detail

namespace testing {
/// See actorflow/testing.hpp.
detail::SleepAwaiter crash_this_actor(Context& ctx);
} // namespace testing

namespace detail {

/// Implemented by the actor that runs a node. Each call arranges for `resume` to be resumed
/// later, from that actor's own message handler, after writing the outcome to `out`. A call
/// never resumes synchronously, so awaiters can always suspend.
class ExecHost {
public:
  virtual void sleep(std::chrono::nanoseconds delay, std::coroutine_handle<> resume) = 0;
  virtual void run_flow(const Flow& flow, State initial, std::coroutine_handle<> resume,
                        std::optional<Result<RunResult>>& out) = 0;
  virtual void ask(const ActorRef& target, Value request, std::chrono::nanoseconds timeout,
                   std::coroutine_handle<> resume, std::optional<Result<Value>>& out) = 0;
  virtual void log(std::string_view message) = 0;
  /// Kills the hosting actor with an exit message, as a crash would (testing::crash_this_actor).
  virtual void crash_self() = 0;

protected:
  ~ExecHost() = default;
};

/// Awaits one ExecHost operation that yields a `T`.
template <class T, class Start>
class HostAwaiter {
public:
  explicit HostAwaiter(Start start) : start_(std::move(start)) {}
  bool await_ready() const noexcept { return false; }
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
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { host_->sleep(delay_, h); }
  void await_resume() const noexcept {}

private:
  ExecHost* host_;
  std::chrono::nanoseconds delay_;
};

} // namespace detail

/// Given to `Node::exec`. Valid for the duration of that exec; not thread-safe (it belongs to
/// the node's actor, and exec always runs inside that actor).
class Context {
public:
  /// `node_name` must outlive the Context (it is the node's name in its flow's graph).
  Context(detail::ExecHost& host, const std::string& node_name,
          std::optional<std::size_t> item_index)
      : host_(&host), node_name_(&node_name), item_index_(item_index) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  /// The node's name inside its flow.
  [[nodiscard]] const std::string& node_name() const noexcept { return *node_name_; }
  /// The item's position when the node runs for one item of a batch.
  [[nodiscard]] std::optional<std::size_t> item_index() const noexcept { return item_index_; }

  /// `co_await ctx.sleep(100ms)`: suspends this node without holding a thread.
  [[nodiscard]] detail::SleepAwaiter sleep(std::chrono::nanoseconds delay) {
    return {*host_, delay};
  }

  /// `co_await ctx.run(flow, state)`: runs `flow` as a child of this node (cancelled with it)
  /// and yields its result.
  [[nodiscard]] auto run(const Flow& flow, State initial) {
    auto start = [this, &flow, initial = std::move(initial)](
                     std::coroutine_handle<> h, std::optional<Result<RunResult>>& out) mutable {
      host_->run_flow(flow, std::move(initial), h, out);
    };
    return detail::HostAwaiter<Result<RunResult>, decltype(start)>(std::move(start));
  }

  /// `co_await ctx.ask(actor, request)`: sends `request` to an actor made by
  /// `Runtime::spawn_actor` and yields its answer, or `timeout` after `timeout`.
  [[nodiscard]] auto ask(ActorRef target, Value request,
                         std::chrono::nanoseconds timeout = std::chrono::seconds(30)) {
    auto start = [this, target = std::move(target), request = std::move(request), timeout](
                     std::coroutine_handle<> h, std::optional<Result<Value>>& out) mutable {
      host_->ask(target, std::move(request), timeout, h, out);
    };
    return detail::HostAwaiter<Result<Value>, decltype(start)>(std::move(start));
  }

  /// Writes a line to the runtime's log, prefixed with the node's name.
  void log(std::string_view message) { host_->log(message); }

private:
  friend detail::SleepAwaiter testing::crash_this_actor(Context& ctx);

  detail::ExecHost* host_;
  const std::string* node_name_;
  std::optional<std::size_t> item_index_;
};

} // namespace actorflow
