#pragma once
/// `Context`: what a node's exec can reach while it runs inside its actor.

#include <actorflow/actor_ref.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/task.hpp>
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

namespace detail {
class SleepAwaiter;
} // namespace detail

namespace testing {
/// See actorflow/testing.hpp.
detail::SleepAwaiter crash_this_actor(Context& ctx);
} // namespace testing

namespace detail {

/// A grant from the resource controller of a (provider, model) key, for one model call.
/// Thread-safe. Ending it returns the grant with what the call used; a lease dropped without
/// being ended returns its estimate.
class ModelLease {
public:
  virtual ~ModelLease() = default;
  /// The call ended (on any thread): `usage` as the provider counted it (zero on failure),
  /// the server's rate-limit headers, and the error if it failed (a 429 pauses the key).
  virtual void end(const Usage& usage, const RateLimitInfo& rate_limits,
                   const std::optional<Error>& error) = 0;
};
using ModelLeasePtr = std::shared_ptr<ModelLease>;

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
  /// Calls `start` with a `wake` function that someone calls once, from any thread, when an
  /// outside operation (a model call) has written its outcome; `resume` then runs from this
  /// actor's mailbox. A wake after the attempt was abandoned is ignored.
  virtual void await_external(std::function<void(std::function<void()> wake)> start,
                              std::coroutine_handle<> resume) = 0;
  /// Asks the resource controller of (provider, model) for a grant of `tokens` (estimated);
  /// `out` gets the lease, or why there is none (budget_exhausted, bad_request: larger than a
  /// limit; cancelled: the runtime is shutting down).
  virtual void acquire(std::string_view provider, std::string_view model, std::uint64_t tokens,
                       std::coroutine_handle<> resume,
                       std::optional<Result<ModelLeasePtr>>& out) = 0;
  /// The model providers of the Runtime.
  [[nodiscard]] virtual const ModelRegistry& models() const = 0;
  /// A model call of this exec used `tokens` (counted into the item's outcome).
  virtual void add_used_tokens(std::uint64_t tokens) = 0;

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

/// Awaits an outside operation through ExecHost::await_external.
class ExternalAwaiter {
public:
  ExternalAwaiter(ExecHost& host, std::function<void(std::function<void()> wake)> start)
      : host_(&host), start_(std::move(start)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { host_->await_external(std::move(start_), h); }
  void await_resume() const noexcept {}

private:
  ExecHost* host_;
  std::function<void(std::function<void()> wake)> start_;
};

} // namespace detail

/// A model provider as node code sees it: `co_await ctx.llm().chat(request)`. Each call
/// suspends the node (no thread is held while the model works) and yields the provider's
/// answer or a typed error (rate_limited with retry_after, server_error, timeout, ...), which a
/// node's RetryPolicy can retry. Cheap to copy; valid while the Context it came from is.
class LlmClient {
public:
  LlmClient(detail::ExecHost& host, std::string name, ModelProviderPtr provider)
      : host_(&host), name_(std::move(name)), provider_(std::move(provider)) {}

  /// The provider's name in the Runtime's ModelRegistry.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// False when no provider has that name; calls then fail with bad_input naming the
  /// providers there are.
  [[nodiscard]] bool valid() const noexcept { return provider_ != nullptr; }

  [[nodiscard]] Task<Result<ChatResponse>> chat(ChatRequest request) const;
  /// One user message.
  [[nodiscard]] Task<Result<ChatResponse>> chat(std::string prompt) const;
  [[nodiscard]] Task<Result<Embeddings>> embed(EmbedRequest request) const;
  [[nodiscard]] Task<Result<Embeddings>> embed(std::vector<std::string> texts) const;

private:
  detail::ExecHost* host_;
  std::string name_;
  ModelProviderPtr provider_;
};

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

  detail::ExecHost* host_;
  const std::string* node_name_;
  std::optional<std::size_t> item_index_;
};

} // namespace actorflow
