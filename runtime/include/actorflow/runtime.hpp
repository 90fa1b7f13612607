#pragma once
/// `Runtime`: runs flows on a private actor system inside a host program.

#include <actorflow/actor_ref.hpp>
#include <actorflow/batch.hpp>
#include <actorflow/cluster.hpp>
#include <actorflow/events.hpp>
#include <actorflow/flow.hpp>
#include <actorflow/interrupt.hpp>
#include <actorflow/limits.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/node.hpp>
#include <actorflow/otlp.hpp>
#include <actorflow/prices.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_events.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/trace.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

namespace testing {
class VirtualClock;
} // namespace testing

class CheckpointStore; // actorflow/checkpoint.hpp

namespace detail {
struct RunCheckpoint;
struct RunState;
struct RuntimeImpl;
} // namespace detail

/// How the scheduler's workers share out actors.
/// - stealing (the default): a queue per worker; what a worker's actors schedule (a spawned
///   actor, an actor woken by their message) runs on that worker, and an idle worker steals
///   only jobs long enough to pay for the move between cores. A batch of short items stays
///   on one core; CPU-bound items spread over all of them.
/// - sharing: one queue that every worker takes from; each item actor may cross cores.
/// `actorflow bench fanout --policy` measures both on your machine.
enum class SchedulerPolicy : std::uint8_t { sharing, stealing };

/// How a Runtime is set up.
struct RuntimeConfig {
  /// Scheduler threads; 0 means one per core, at least 2.
  std::size_t worker_threads = 0;
  /// Node types that flows may name with `FlowBuilder::registered_node`.
  NodeRegistry nodes{};
  /// Model providers that node code reaches with `ctx.llm(name)`. "local" (the embedded
  /// offline provider) is added unless the registry already has a provider of that name.
  ModelRegistry models{};
  /// Limits on model calls, by provider ("openai") or by provider and model
  /// ("openai/gpt-4o-mini"); the more specific entry wins, and a call without a model uses the
  /// provider's default model. Every (provider, model) key in use gets its own resource
  /// controller with these limits (unlimited when no entry matches), which also pauses the key when
  /// the provider answers 429. See actorflow/limits.hpp.
  std::map<std::string, Limits> limits{};
  /// What model calls cost (see actorflow/prices.hpp): counted into each run's usage and
  /// report, and what `Limits::money_per_run` budgets are spent in. Keys are the providers'
  /// names in `models`.
  PriceTable prices{};
  /// Where `Context::log` lines go (called from runtime threads, possibly at once).
  /// Default: standard error.
  std::function<void(std::string_view line)> log{};
  /// How the workers share out actors (see SchedulerPolicy).
  SchedulerPolicy scheduler = SchedulerPolicy::stealing;
  /// Run every timer on this clock instead of real time (tests; see actorflow/testing.hpp).
  std::shared_ptr<testing::VirtualClock> clock{};
  /// Where to write a Chrome trace of every run (Perfetto, chrome://tracing); empty: none.
  /// For hosts, to see where time goes. The file is rewritten, whole, as each run ends
  /// (before its handle completes, so a host that has its result can open the file) and at
  /// shutdown, with the spans that ended after their run (actors stopping after a cancel, a
  /// model call abandoned by a timeout). Each run is a process on one time axis from the
  /// Runtime's start (see `TraceWriter`). Meant for debugging and profiling: every span stays
  /// in memory until shutdown, and each rewrite costs as much as the file has grown. A failed
  /// write is logged, never fatal.
  std::string trace_file{};
  /// A folder where each durable run (one with a `RunOptions::run_id`) writes its own Chrome
  /// trace, `<trace_dir>/<run_id>.json`, when it ends (a resumed run replaces it with its new
  /// spans), for `actorflow ui --traces`. Empty: none. A failed write is logged, never fatal.
  std::string trace_dir{};
  /// Where durable runs are recorded (`open_checkpoint_store`; see actorflow/checkpoint.hpp).
  /// Only runs given a `RunOptions::run_id` are recorded; `resume` needs it.
  std::shared_ptr<CheckpointStore> checkpoints{};
  /// Cluster nodes to run batch items on, TLS, and whether to load the network layer at all
  /// (see actorflow/cluster.hpp). Without it the Runtime opens no socket.
  ClusterConfig cluster{};
  /// OpenTelemetry export of every run's spans (see actorflow/otlp.hpp). Off unless an
  /// endpoint is set here or in the environment (OTEL_EXPORTER_OTLP_ENDPOINT). A setting that
  /// is wrong is logged and export stays off; the Runtime runs either way.
  OtlpConfig otlp{};
};

/// How one run is watched.
struct RunOptions {
  /// Progress of every batch in the run, about 100 events per batch plus a final one. Called
  /// from runtime threads, possibly several at once: keep it quick and thread-safe.
  std::function<void(const BatchProgress&)> on_progress{};
  /// Every failed attempt, retry, timeout, fallback and circuit change (same threading rules).
  std::function<void(const AttemptEvent&)> on_attempt{};
  /// The run's deadline, from when it starts (on the runtime's clock); zero: none. When it
  /// passes, every actor of the run stops, pending retries are dropped, and the run fails with
  /// `deadline_exceeded`. A nested flow's own `FlowBuilder::deadline` can only make it earlier.
  std::chrono::milliseconds deadline{0};
  /// The run's share of each model key that several runs wait on. 0: its calls are served in
  /// arrival order with those of every other unweighted run. Above 0: the run gets a lane of
  /// its own, and lanes are served in proportion to their weights (fair queuing), so one
  /// tenant's backlog does not make another wait behind all of it.
  double weight = 0;
  /// Every model call of the run, when it ends (from any thread, possibly several at once:
  /// keep it quick and thread-safe). Also calls refused before going out.
  std::function<void(const ModelCallEvent&)> on_model_call{};
  /// Every span of the run (flow, node, item, attempt, backoff, grant wait, model call) when it
  /// ends; see actorflow/trace.hpp. Same threading rules as on_attempt (a model call's span
  /// ends on the provider's thread). Not called once the run has ended: spans that end later
  /// (actors stopping after a cancel, an abandoned model call) go to `trace` and
  /// `RuntimeConfig::trace_file` only. Without it, `trace` and
  /// `RuntimeConfig::trace_file`, the run times no spans at all.
  std::function<void(const SpanEvent&)> on_span{};
  /// Also records the run's spans here (as run `RunHandle::id()`, times from the run's
  /// start); kept alive by the run. Write it once the run has ended:
  /// `options.trace = writer; ... run.get(); writer->write("run.json");`.
  std::shared_ptr<TraceWriter> trace{};
  /// Makes the run durable: recorded in `RuntimeConfig::checkpoints` under this id (which must
  /// be new there), so that `Runtime::resume` can continue it after a crash. Empty: not
  /// recorded. Without a store configured, a run id is an error of the run.
  std::string run_id{};
  /// A W3C traceparent ("00-<trace id>-<span id>-<flags>") of the host's own trace: the run's
  /// exported spans (actorflow/otlp.hpp) go into that trace, its root under that span; with
  /// flags 00 (the host does not record the trace) they are not exported. Empty: the run is
  /// a trace of its own, as it is (with a line in the log) when the traceparent does not parse,
  /// as W3C trace context asks of a header that does not.
  std::string trace_parent{};
  /// Which events the run streams besides its interrupts and its end (see
  /// actorflow/run_events.hpp): to `on_event` if set, else to the handle's `events()`.
  StreamMode stream = StreamMode::none;
  /// Every event of the run as it happens, on the thread that produced it (a scheduler
  /// thread, a provider's I/O thread), possibly several at once: keep it quick and
  /// thread-safe. It may answer interrupts (`RunHandle::answer`). Set, nothing is queued for
  /// `RunHandle::events`.
  std::function<void(const RunEvent&)> on_event{};
};

/// A run in progress or finished. Copies refer to the same run; every member is safe to call
/// from any thread, also after the Runtime is gone.
class RunHandle {
public:
  RunHandle() = default; ///< refers to no run; get() reports bad_input
  explicit RunHandle(std::shared_ptr<detail::RunState> state);

  /// Blocks until the run ends and returns its result or error. May be called repeatedly.
  /// Never call it from inside a node: that would block a scheduler thread.
  [[nodiscard]] Result<RunResult> get() const;
  /// Waits at most `timeout`; true when the run has ended.
  [[nodiscard]] bool wait_for(std::chrono::milliseconds timeout) const;
  [[nodiscard]] bool done() const;
  /// Calls `callback` once with the outcome: right away on this thread if the run has ended,
  /// otherwise on the runtime thread that ends it (so it must be quick and must not block).
  void on_complete(std::function<void(const Result<RunResult>&)> callback);
  /// Stops the run and every actor under it; the result becomes `Errc::cancelled` unless the
  /// run had already ended. Returns without waiting.
  void cancel();
  /// Unique within its Runtime.
  [[nodiscard]] std::uint64_t id() const;
  /// The run's model calls so far (live while it runs).
  [[nodiscard]] RunUsage usage() const;
  /// The run's events as they happen (see actorflow/run_events.hpp): interrupts and the final
  /// RunFinished always, the rest as `RunOptions::stream` says. Copies share one queue.
  [[nodiscard]] EventStream events() const;
  /// The run's interrupts that wait for an answer now, in the order raised.
  [[nodiscard]] std::vector<Interrupt> interrupts() const;
  /// Answers interrupt `interrupt_id`: the node that raised it goes on with `answer`.
  /// Errors (bad_input): no such interrupt in this run; one that is not pending (answered
  /// already, expired, cancelled with its run). A durable run records the answer first.
  [[nodiscard]] Result<void> answer(std::string_view interrupt_id, Value answer) const;
  /// What `Runtime::answer` and `Runtime::interrupts` know this run by: its
  /// `RunOptions::run_id` when it is durable, else its `id()` in decimal.
  [[nodiscard]] std::string name() const;

private:
  std::shared_ptr<detail::RunState> state_;
};

/// Runs flows on a private CAF actor system. Safe to call from any thread. Two Runtimes in one
/// process share nothing.
///
/// Shutdown (the destructor or `shutdown()`): runs still going are cancelled, their handles
/// complete with `Errc::cancelled`, and the worker threads stop before it returns.
///
/// Lifetime: do not keep a Runtime in a static or global object, or call `shutdown()` before
/// `main` returns: CAF's own globals may already be destroyed when static destructors run.
class Runtime {
public:
  explicit Runtime(RuntimeConfig config = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Starts `flow` on `initial`. Returns at once; the handle can be waited on or cancelled.
  [[nodiscard]] RunHandle run(const Flow& flow, State initial = {}, RunOptions options = {});

  /// Continues the durable run `run_id` of `flow` (recorded in `RuntimeConfig::checkpoints`)
  /// from its last committed step, with that step's State: the root flow starts at the node
  /// that was to run next (a nested flow there runs from its start), and inside every batch
  /// only the items without a committed outcome run; the others hand their committed outcome
  /// to the reducer, which sees every item once. A run that had finished is not run again:
  /// its handle completes with the committed final State. `options.run_id` is ignored.
  /// Errors (the handle's): no store, no such run, a run of another flow (by name), a node
  /// named by the checkpoint that the flow no longer has.
  [[nodiscard]] RunHandle resume(const Flow& flow, const std::string& run_id,
                                 RunOptions options = {});

  /// Answers interrupt `interrupt_id` of run `run_id` (a durable run's id, or a run's
  /// `RunHandle::name`). A run live in this Runtime goes on at once; a durable run that is not
  /// (its process exited while it waited) has the answer recorded in the store, for
  /// `resume` to deliver. A run live in another process must be answered there: that process
  /// does not watch the store. Errors (bad_input): no such run, no such interrupt, one that is
  /// not pending.
  [[nodiscard]] Result<void> answer(const std::string& run_id, const std::string& interrupt_id,
                                    Value answer);
  /// The pending interrupts of run `run_id`: a live run's, else those recorded in the store.
  [[nodiscard]] Result<std::vector<Interrupt>> interrupts(const std::string& run_id) const;

  /// Starts an actor that answers `ask`s with `handler`, one at a time. It lives until the
  /// Runtime shuts down.
  [[nodiscard]] ActorRef spawn_actor(ActorHandler handler);

  /// Cancels what runs and stops the actor system; idempotent. `run` afterwards yields
  /// handles that report `Errc::cancelled`.
  void shutdown();

  /// What the OpenTelemetry exporter has sent, dropped and failed so far (all zero when it
  /// is off). After `shutdown`, only spans that end later still count (as dropped).
  [[nodiscard]] OtlpStats otlp_stats() const;

  [[nodiscard]] std::size_t worker_threads() const noexcept;
  [[nodiscard]] const NodeRegistry& nodes() const noexcept;
  /// The model providers, for host code that calls one directly.
  [[nodiscard]] const ModelRegistry& models() const noexcept;
  /// A snapshot of every (provider, model) key's resource controller made so far, including
  /// every call that ended before this call (it waits briefly for the controllers: call it
  /// from host threads, not from a node).
  [[nodiscard]] std::vector<LimitStats> limit_stats() const;

  /// Hosts batch items for other Runtimes (what `actorflow node` does): listens on
  /// `options.bind`:`options.port` and returns the port. Items run exec of the node type
  /// registered under the name their batch uses. Needs `RuntimeConfig::cluster` with
  /// `network` (or nodes, or tls); off loopback, TLS or `insecure`. Blocks while it binds.
  [[nodiscard]] Result<std::uint16_t> serve(const ServeOptions& options);
  /// Adds a cluster node ("host:port") to run items on, as `ClusterConfig::nodes` does at
  /// start: blocks until it answers (its connection, then its hello, each at most
  /// `connect_timeout`). An error says why it did not; the
  /// node is then dialled again in the background.
  [[nodiscard]] Result<void> add_node(const std::string& address);
  /// Every node added so far, in the order added.
  [[nodiscard]] std::vector<NodeStatus> cluster_status() const;
  /// Waits at most `timeout` until every node added so far is connected (one that died is
  /// dialled again every `ClusterConfig::reconnect_interval`); true when they are.
  [[nodiscard]] bool wait_for_nodes(std::chrono::milliseconds timeout) const;

private:
  RunHandle start(const Flow& flow, State initial, RunOptions options,
                  std::shared_ptr<detail::RunCheckpoint> checkpoint);

  std::unique_ptr<detail::RuntimeImpl> impl_; // keeps CAF out of this header
};

} // namespace actorflow
