#pragma once
/// `Context`: what a node's exec can reach while it runs inside its actor.

#include <actorflow/actor_ref.hpp>
#include <actorflow/detail/awaiters.hpp>
#include <actorflow/interrupt.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <coroutine>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow {

class Flow;
class Context;

namespace testing {
/// See actorflow/testing.hpp.
detail::SleepAwaiter crash_this_actor(Context& ctx);
} // namespace testing

namespace detail {
/// The runtime's own parts (tool calls, model calls) reach the exec's host through this.
struct ContextAccess {
  static ExecHost& host(Context& ctx) noexcept;
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

  /// `co_await ctx.run_all(runs)`: runs every (flow, initial state) of `runs` at once, each
  /// as a child of this node like `run`, and yields their results in the order given once
  /// the last one has finished. The tool calls of one model turn run this way.
  [[nodiscard]] Task<std::vector<Result<RunResult>>>
  run_all(std::vector<std::pair<Flow, State>> runs);

  /// `co_await ctx.on(post, work)`: runs `work` where `post` puts it (the host's own thread or
  /// event loop: `post` must run what it is given exactly once, on any thread) and yields its
  /// value, or its exception as a node_threw error. This node's actor is not held meanwhile;
  /// if the attempt is abandoned (its timeout), the late result is dropped.
  [[nodiscard]] Task<Result<Value>> on(std::function<void(std::function<void()>)> post,
                                       std::function<Value()> work);

  /// `co_await ctx.external(start)`: an outside asynchronous operation (a host's callback
  /// API, an MCP server). `start` runs at once with `done`; whoever ends the operation calls
  /// `done` exactly once, from any thread. This node's actor is not held meanwhile; a `done`
  /// after the attempt was abandoned (its timeout) is dropped.
  [[nodiscard]] Task<Result<Value>>
  external(std::function<void(std::function<void(Result<Value>)> done)> start);

  /// `co_await ctx.ask(actor, request)`: sends `request` to an actor made by
  /// `Runtime::spawn_actor` and yields its answer, or `timeout` after `timeout`.
  [[nodiscard]] auto ask(ActorRef target, Value request,
                         std::chrono::nanoseconds timeout = std::chrono::seconds(30)) {
    auto start = [this, target = std::move(target), request = std::move(request),
                  timeout](std::coroutine_handle<> h, std::optional<Result<Value>>& out) mutable {
      host_->ask(target, std::move(request), timeout, h, out);
    };
    return detail::HostAwaiter<Result<Value>, decltype(start)>(std::move(start));
  }

  /// `co_await ctx.interrupt(question)`: asks the person behind the host and yields the answer
  /// (see actorflow/interrupt.hpp). The node waits without holding a thread; the rest of the
  /// run goes on. Errors: timeout (`options.timeout` passed without a default answer),
  /// cancelled, bad_input (an item running on a cluster node cannot ask), and a durable run's
  /// store failing to record it.
  ///
  /// With GCC 12, name the options before the co_await (`InterruptOptions wait{...};`), or use
  /// the overload below: GCC 12 destroys a braced temporary of a co_await expression twice.
  [[nodiscard]] Task<Result<Value>> interrupt(Value question, InterruptOptions options);
  // Overloads, not default arguments, for the same GCC 12 bug.
  [[nodiscard]] Task<Result<Value>> interrupt(Value question);
  /// Waits at most `timeout`, then yields `default_answer`.
  [[nodiscard]] Task<Result<Value>> interrupt(Value question, std::chrono::milliseconds timeout,
                                              Value default_answer);

  /// The Runtime's default model provider (see ModelRegistry).
  [[nodiscard]] LlmClient llm() const { return llm(host_->models().default_name()); }
  /// The provider called `name`.
  [[nodiscard]] LlmClient llm(std::string_view name) const {
    return {*host_, std::string(name), host_->models().find(name)};
  }

  /// Writes a line to the runtime's log, prefixed with the node's name.
  void log(std::string_view message) { host_->log(message); }

private:
  friend detail::SleepAwaiter testing::crash_this_actor(Context& ctx);
  friend struct detail::ContextAccess;

  detail::ExecHost* host_;
  const std::string* node_name_;
  std::optional<std::size_t> item_index_;
};

} // namespace actorflow
