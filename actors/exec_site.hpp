#pragma once
// The exec site: hosts one exec coroutine inside an actor, as the ExecHost side of Context.
// Every await arranges a message to the actor, whose handler resumes the coroutine, so a
// suspended node holds no thread and its code never runs concurrently. Shared by the node
// actor (a single node) and the item actor (one batch item); each says what happens when exec
// ends.
//
// An attempt can be abandoned (timed out): its coroutine is destroyed, its sub-flows stopped,
// its grant requests cancelled, and every reply still on its way for it is recognised as stale
// by its generation and ignored.

#include <actorflow/context.hpp>
#include <actorflow/detail/exec_host.hpp>
#include <actorflow/node.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/task.hpp>
#include <actorflow/value.hpp>

#include "actors/cluster/protocol.hpp"
#include "actors/lease.hpp"
#include "actors/node_spec.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actorflow::actors {

class ExecSite : public detail::ExecHost {
public:
  ExecSite(caf::event_based_actor* self, NodeSpecPtr spec) : self_(self), spec_(std::move(spec)) {}
  ExecSite(const ExecSite&) = delete;
  ExecSite& operator=(const ExecSite&) = delete;

  // -- ExecHost: each call ends in a message to this actor that resumes the coroutine ---------

  void sleep(std::chrono::nanoseconds delay, std::coroutine_handle<> h) override;
  void run_flow(const Flow& flow, State initial, std::coroutine_handle<> h,
                std::optional<Result<RunResult>>& out) override;
  void run_flows(std::vector<std::pair<Flow, State>> runs, std::coroutine_handle<> h,
                 std::optional<std::vector<Result<RunResult>>>& out) override;
  void ask(const ActorRef& target, Value request, std::chrono::nanoseconds timeout,
           std::coroutine_handle<> h, std::optional<Result<Value>>& out) override;
  void log(std::string_view message) override { spec_->log(message); }
  void crash_self() override;
  void await_external(std::function<void(std::function<void()> wake)> start,
                      std::coroutine_handle<> h) override;
  [[nodiscard]] std::chrono::steady_clock::time_point now() const override;
  void report_fallback(const RouteTarget& from, const RouteTarget& to, const Error& why) override;
  // Every model call first asks the resource controller of its (provider, model) key for a
  // grant: this Runtime's, or for an item of another Runtime's run (a cluster node runs it)
  // that Runtime's, found through its limit gateway, so that limits hold across the cluster.
  void acquire(std::string_view provider, std::string_view model, std::uint64_t tokens,
               bool batched, std::coroutine_handle<> h,
               std::optional<Result<detail::ModelLeasePtr>>& out) override;
  [[nodiscard]] CallOrigin next_call_origin() override;
  [[nodiscard]] const ModelRegistry& models() const override { return spec_->scope.env->models; }
  void add_used_tokens(std::uint64_t tokens) override { tokens_ += tokens; }
  void raise_interrupt(Value question, const InterruptOptions& options,
                       std::function<void(Result<Value>)> done) override;
  [[nodiscard]] bool streams(StreamMode mode) const override {
    return spec_->scope.hooks->streams(mode);
  }
  void emit(RunEvent::Body body) override;
  [[nodiscard]] std::function<void(std::string_view)> token_sink() override;

  /// A timer of this actor fired, or an outside operation ended (wake_atom).
  void wake(std::uint64_t token);

protected:
  ~ExecSite() = default;

  /// Describes what runs for error messages: "node 'a/b' exec".
  [[nodiscard]] virtual std::string where(const char* step) const = 0;
  /// exec (or its fallback) produced a value.
  virtual void exec_succeeded(Value result) = 0;
  /// exec failed. `retry`: the policy retries this error (the fallback was not called);
  /// otherwise the fallback failed too.
  virtual void exec_failed(const Error& error, bool retry) = 0;

  /// Makes the node instance; the error when the factory failed.
  [[nodiscard]] std::optional<Error> make_node();

  /// Starts attempt `attempt` of exec on `input`, which the caller keeps alive until exec has
  /// ended (the fallback reads it too); exec gets its own copy. Its end arrives in
  /// exec_succeeded or exec_failed, now or after awaits.
  void start_exec(const Value& input, std::optional<std::size_t> index, std::uint32_t attempt);

  /// Gives up on the running attempt (it timed out): destroys its coroutine, stops its
  /// sub-flows, cancels its grant requests, and makes every reply still due to it stale.
  void abandon_exec();

  /// Frees exec's coroutine frame, context and node instance. An item actor calls this as soon
  /// as it has its outcome: they were allocated on this worker thread and are freed here too,
  /// instead of on whichever thread drops the actor's last reference (cross-thread frees
  /// contend on the allocator's locks).
  void release_exec();

  /// Reports a step of supervision of this site's running attempt to the run's on_attempt.
  void report_attempt(AttemptEvent::Kind kind, const Error& error) const;

  caf::event_based_actor* self_;
  NodeSpecPtr spec_;
  std::unique_ptr<Node> node_;
  const RetryPolicy* policy_ = nullptr; // the attempts' policy, once the node is made
  std::uint32_t attempt_ = 0;           // 1-based number of the current attempt
  std::uint64_t tokens_ = 0;            // used by model calls of this actor's attempts
  // The span enclosing what the running attempt starts (grant waits, model calls, sub-flows):
  // the attempt's span; 0 when the run is not traced.
  std::uint64_t span_parent_ = 0;
  // An item run for another Runtime: model calls ask its controllers ...
  std::optional<RemoteLimits> remote_limits_;
  // ... and exec's error goes back as it is: that Runtime's batch decides about retries and
  // runs the fallback.
  bool defer_failures_ = false;

private:
  // exec failed: retried (by the supervisor), or the fallback may still supply a value.
  void after_exec(const Error& error);
  void resume(std::coroutine_handle<> h);
  void finish_if_done();
  /// Resumes `h` from this actor's mailbox: never synchronously (the awaiter has not suspended
  /// yet), and not through a timer (which a virtual clock would hold until time moves).
  void resume_soon(std::coroutine_handle<> h);
  // The item this exec's events belong to: its own, or the one whose sub-flow it runs in.
  [[nodiscard]] std::optional<std::size_t> event_item() const;
  // Where the running attempt is, for the ids of what it starts: the node's place, and the
  // item's index.
  [[nodiscard]] std::string attempt_place() const;
  // The scope of a sub-flow the running attempt starts (its `sub_flows_`th).
  [[nodiscard]] Scope sub_flow_scope();
  // Asks `controller` for lease `id`; resumes `h` with the lease or the refusal.
  void request_grant(caf::actor controller, std::uint64_t id, std::uint64_t run, double weight,
                     LeaseReport report, OpenSpan wait, std::coroutine_handle<> h,
                     std::optional<Result<detail::ModelLeasePtr>>& out);

  std::uint64_t generation_ = 0;             // bumped when an attempt is abandoned
  std::vector<caf::actor> attempt_children_; // sub-flows started by the running attempt
  // Grants the running attempt waits for, by lease id: cancelled if it is abandoned.
  std::unordered_map<std::uint64_t, caf::actor> pending_grants_;
  // Destroyed in reverse order: the coroutine frame goes before what it refers to.
  const Value* exec_input_ = nullptr; // the running attempt's input, owned by the caller
  std::optional<Context> ctx_;
  std::uint64_t next_token_ = 0;
  std::unordered_map<std::uint64_t, std::coroutine_handle<>> sleepers_;
  // Timers of the running attempt that run a function rather than resume it (an interrupt's
  // timeout), by token.
  std::unordered_map<std::uint64_t, std::function<void()>> timers_;
  std::uint32_t interrupts_ = 0;  // raised by the running attempt (the next one's number)
  std::uint32_t sub_flows_ = 0;   // started by the running attempt
  std::uint32_t model_calls_ = 0; // made by the running attempt
  Task<Value> task_;              // last: its frame refers to node_ and ctx_
};

} // namespace actorflow::actors
