#pragma once
/// Internal: the interface between node code and the actor that runs it. `Context` and its
/// awaiters call it; the runtime's actors implement it. Not for users.

#include <actorflow/actor_ref.hpp>
#include <actorflow/interrupt.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_events.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow {

class Flow;

namespace detail {

/// A grant from the resource controller of a (provider, model) key, for one model call.
/// Thread-safe. Ending it returns the grant with what the call used; a lease dropped without
/// being ended returns its estimate.
class ModelLease {
public:
  /// What the answer said of the call besides its usage (for on_model_call and exporters).
  struct Facts {
    std::string_view operation{}; ///< "chat", "embeddings"
    std::string response_model{};
    std::string finish_reason{};
  };

  virtual ~ModelLease() = default;
  /// The call ended (on any thread): `usage` as the provider counted it (zero on failure),
  /// the server's rate-limit headers, and the error if it failed (a 429 pauses the key).
  /// `batched`: how the call was served, when not as its provider says (ModelOutcome::batched).
  virtual void end(const Usage& usage, const RateLimitInfo& rate_limits,
                   const std::optional<Error>& error, std::optional<bool> batched, Facts facts) = 0;
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
  /// Runs every flow of `runs` at once, each as a child like run_flow; `out` gets their
  /// results in the order given once the last has finished.
  virtual void run_flows(std::vector<std::pair<Flow, State>> runs, std::coroutine_handle<> resume,
                         std::optional<std::vector<Result<RunResult>>>& out) = 0;
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
  /// limit; cancelled: the runtime is shutting down). `batched`: the call goes through a
  /// batch API (priced with its discount).
  virtual void acquire(std::string_view provider, std::string_view model, std::uint64_t tokens,
                       bool batched, std::coroutine_handle<> resume,
                       std::optional<Result<ModelLeasePtr>>& out) = 0;
  /// The runtime's clock (virtual under testing::VirtualClock).
  [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
  /// A model call of this exec moved on along its route, from one target to the next.
  virtual void report_fallback(const RouteTarget& from, const RouteTarget& to,
                               const Error& why) = 0;
  /// The origin of this exec's next model call (and counts the call): empty unless the run is
  /// durable (see CallOrigin).
  [[nodiscard]] virtual CallOrigin next_call_origin() = 0;
  /// The model providers of the Runtime.
  [[nodiscard]] virtual const ModelRegistry& models() const = 0;
  /// A model call of this exec used `tokens` (counted into the item's outcome).
  virtual void add_used_tokens(std::uint64_t tokens) = 0;
  /// Raises an interrupt with `question` (see actorflow/interrupt.hpp); `done` gets the answer
  /// or the error once, from any thread (a `done` after the attempt was abandoned is dropped).
  virtual void raise_interrupt(Value question, const InterruptOptions& options,
                               std::function<void(Result<Value>)> done) = 0;
  /// Whether the run streams events of `mode` (tokens, tools).
  [[nodiscard]] virtual bool streams(StreamMode mode) const = 0;
  /// Queues an event labelled with this exec's node path and item.
  virtual void emit(RunEvent::Body body) = 0;
  /// Where this exec's model text goes as it arrives (thread-safe, usable after the exec is
  /// gone); empty when the run does not stream tokens.
  [[nodiscard]] virtual std::function<void(std::string_view)> token_sink() = 0;

protected:
  ~ExecHost() = default;
};

} // namespace detail
} // namespace actorflow
