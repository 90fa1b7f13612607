#pragma once
// Messages between actorflow's actors, and the environment every actor of one Runtime shares.
// Internal: included by actors/ and runtime/src only.

#include <actorflow/batch.hpp>
#include <actorflow/limits.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/node.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/runtime.hpp>
#include <actorflow/state.hpp>
#include <actorflow/trace.hpp>
#include <actorflow/value.hpp>

#include "store/run_checkpoint.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

namespace actorflow::detail {
class RunMeter;
} // namespace actorflow::detail

namespace actorflow::actors {

// (run_atom, State) -> StepReply: run one node or one whole flow on a State.
using run_atom = caf::atom_constant<caf::atom("af_run")>;
// (wake_atom, token): a node's timer fired; resume the coroutine waiting on `token`.
using wake_atom = caf::atom_constant<caf::atom("af_wake")>;
// (ask_atom, Value) -> AskReply: a request to an actor made by Runtime::spawn_actor.
using ask_atom = caf::atom_constant<caf::atom("af_ask")>;
// (item_done_atom, slot, retry, ItemOutcome): an item actor's outcome, to its batch parent.
// Items get their input when spawned and answer with a plain send: cheaper than
// request/response, and the parent tracks its children itself (`slot` is the child's place in
// the parent's window; `retry`: the retry policy retries this failure).
using item_done_atom = caf::atom_constant<caf::atom("af_done")>;
// (retry_atom, slot or 0, attempt): a backoff timer ran out; start the next attempt.
using retry_atom = caf::atom_constant<caf::atom("af_retry")>;
// (timeout_atom, slot, launch) for a batch item, (timeout_atom, 0, attempt) for a single node:
// an attempt's time limit ran out.
using timeout_atom = caf::atom_constant<caf::atom("af_tmout")>;
// (deadline_atom): a flow's (or the run's) deadline passed.
using deadline_atom = caf::atom_constant<caf::atom("af_dline")>;
// Resource controllers (actors/limit_controller.hpp):
// (acquire_atom, lease id, run id, weight, tokens) -> (granted, Errc, message, waited ns): a
// grant for one model call. Built-in types only: the asker may be an item on a cluster node.
using acquire_atom = caf::atom_constant<caf::atom("af_acq")>;
// (release_atom, lease id, fields): a granted call ended (sent from any thread, maybe from a
// cluster node); the fields are its CallEnd as msgpack (limit_controller.hpp).
using release_atom = caf::atom_constant<caf::atom("af_rel")>;
// (cancel_atom, lease id): the asker gave up (its attempt was abandoned).
using cancel_atom = caf::atom_constant<caf::atom("af_cancel")>;
// (run_ended_atom, run id): the run has ended; its budget record can go.
using run_ended_atom = caf::atom_constant<caf::atom("af_runend")>;
// (sync_atom) -> (): answered once everything sent to the actor before it is handled.
using sync_atom = caf::atom_constant<caf::atom("af_sync")>;
// (poll_atom): a controller's timer: grant what has become grantable.
using poll_atom = caf::atom_constant<caf::atom("af_poll")>;

/// What a node or flow actor answers: a RunResult or an Error. (CAF messages need default
/// constructible types, which Result<T> deliberately is not.)
struct StepReply {
  std::optional<RunResult> result;
  Error error;

  static StepReply of(Result<RunResult> r) {
    if (r.ok())
      return {std::move(*r), {}};
    return {std::nullopt, std::move(r).error()};
  }
  Result<RunResult> take() && {
    if (result)
      return std::move(*result);
    return std::move(error);
  }
};

/// What an ask-able actor answers.
struct AskReply {
  std::optional<Value> value;
  Error error;
};

/// How a granted call ended.
struct CallEnd {
  std::uint64_t lease = 0;
  /// Tokens the call used; none: unknown (the estimate stands).
  std::optional<std::uint64_t> actual_tokens;
  RateLimitInfo rate_limits;
  /// The provider answered 429, with this Retry-After (none: not said).
  bool rate_limited = false;
  std::optional<std::chrono::nanoseconds> retry_after;
};

class LimitControllers;
class Cluster;

/// Shared by every actor of one Runtime; read-only but for the controllers (thread-safe).
struct Environment {
  NodeRegistry nodes;
  ModelRegistry models;
  std::function<void(std::string_view)> log;
  std::shared_ptr<LimitControllers> controllers; // set once the actor system is up
  std::shared_ptr<Cluster> cluster;               // set when the Runtime has the network
};
using EnvironmentPtr = std::shared_ptr<const Environment>;

/// Where the spans of one run go (RunOptions::on_span, RunOptions::trace, the Runtime's trace
/// file), and the clock they are timed on. A run has one only when someone listens: every
/// span site checks for it first and does nothing without it.
///
/// Thread-safe: actors of the run and provider threads (a model call ends there) use it at
/// once. `now` is safe to call after the Runtime is gone (it holds what it reads).
struct SpanSink {
  using TimePoint = std::chrono::steady_clock::time_point; // caf::actor_clock's
  /// The host's RunOptions::on_span: not called once the run has ended.
  std::function<void(const SpanEvent&)> to_host;
  /// Into TraceWriters the sink shares (RunOptions::trace, the Runtime's trace file): also
  /// after the run, so that a cancelled run's trace gets the spans its actors close as they
  /// stop.
  std::function<void(const SpanEvent&)> to_writers;
  std::function<TimePoint()> now; // the runtime's clock: virtual in tests
  TimePoint origin;               // when the run started, on that clock
  std::atomic<std::uint64_t> next_id{1};

  [[nodiscard]] std::uint64_t new_id() noexcept {
    return next_id.fetch_add(1, std::memory_order_relaxed);
  }
  /// The run has ended: spans that end later (a straggling item, a model call ending on a
  /// provider thread) go to the writers only, since the host may have torn down what its
  /// callback refers to.
  void end() {
    std::unique_lock lock{mutex_};
    ended_ = true;
  }
  /// Reports a span that started at `start` and ends now (or at `end`).
  void report(SpanEvent::Kind kind, std::string name, std::optional<std::size_t> item,
              std::uint32_t attempt, std::uint64_t id, std::uint64_t parent, TimePoint start,
              std::optional<Error> error = std::nullopt,
              std::optional<TimePoint> end = std::nullopt) const {
    SpanEvent span;
    span.kind = kind;
    span.name = std::move(name);
    span.item = item;
    span.attempt = attempt;
    span.id = id;
    span.parent = parent;
    span.start = start - origin;
    span.duration = std::max(end.value_or(now()) - start, std::chrono::nanoseconds{0});
    span.error = std::move(error);
    if (to_writers)
      to_writers(span);
    if (!to_host)
      return;
    std::shared_lock lock{mutex_};
    if (!ended_)
      to_host(span);
  }

private:
  mutable std::shared_mutex mutex_;
  bool ended_ = false; // guarded by mutex_
};

/// A span that has started: its id (0: not traced) and when.
struct OpenSpan {
  std::uint64_t id = 0;
  SpanSink::TimePoint start{};
  explicit operator bool() const noexcept { return id != 0; }
};

/// Shared by every actor of one run (never null in a Scope): how the host watches the run.
class RunHooks {
public:
  RunHooks(RunOptions run_options, std::uint64_t id, std::shared_ptr<detail::RunMeter> run_meter,
           std::shared_ptr<SpanSink> span_sink,
           std::shared_ptr<detail::RunCheckpoint> run_checkpoint)
      : options(std::move(run_options)), run_id(id), meter(std::move(run_meter)),
        spans(std::move(span_sink)), checkpoint(std::move(run_checkpoint)) {}

  const RunOptions options;
  const std::uint64_t run_id;
  const std::shared_ptr<detail::RunMeter> meter; // never null
  const std::shared_ptr<SpanSink> spans;         // null: nobody listens to spans
  const std::shared_ptr<detail::RunCheckpoint> checkpoint; // null: the run is not durable

  /// Passes a model call to options.on_model_call, unless the run has ended: a call can end
  /// on a provider thread long after its run (cancelled, abandoned by a timeout), when the host
  /// may have torn down what the callback refers to.
  void report_model_call(const ModelCallEvent& event) const {
    if (!options.on_model_call)
      return;
    std::shared_lock lock{mutex_};
    if (!ended_)
      options.on_model_call(event);
  }
  /// The run has ended: no model call or span is reported after this returns.
  void end_reports() const {
    {
      std::unique_lock lock{mutex_};
      ended_ = true;
    }
    if (spans)
      spans->end();
  }

private:
  mutable std::shared_mutex mutex_;
  mutable bool ended_ = false; // guarded by mutex_
};

/// What an actor of a run knows about where it stands.
struct Scope {
  EnvironmentPtr env;
  std::shared_ptr<const RunHooks> hooks;
  std::string path; // prefix for children's names: "" at the root, "outer/" inside "outer"
  std::uint64_t span = 0; // the span that encloses what starts here (0: none, or not traced)

  /// The scope of the children of `name` (a nested flow, or a node's sub-flows), inside span
  /// `parent_span`.
  [[nodiscard]] Scope nested(std::string_view name, std::uint64_t parent_span) const {
    return Scope{env, hooks, path + std::string(name) + "/", parent_span};
  }
  /// The same place, inside span `parent_span`.
  [[nodiscard]] Scope within(std::uint64_t parent_span) const {
    return Scope{env, hooks, path, parent_span};
  }
  /// The run's span sink, or null when nobody listens.
  [[nodiscard]] SpanSink* spans() const noexcept {
    return hooks ? hooks->spans.get() : nullptr;
  }
};

/// Our error for an infrastructure failure reported by CAF (a dead actor, a timeout, an exit).
Error to_error(const caf::error& error, const std::string& where);

} // namespace actorflow::actors

// Local-only message types: they never leave the process in this form (remote messages carry
// msgpack bytes), so CAF need not serialise them.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::State)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::Value)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::actors::StepReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::actors::AskReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::ItemOutcome)
