// Glue from the public Runtime/RunHandle to the actors: owns the actor system, starts root flow
// actors, tracks live runs so that shutdown can cancel them.

#include <actorflow/checkpoint.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/runtime.hpp>
#include <actorflow/testing.hpp>

#include "actors/actor_slot.hpp"
#include "actors/cluster/cluster.hpp"
#include "actors/cluster/limit_gateway.hpp"
#include "actors/cluster/network.hpp"
#include "actors/cluster/node_host.hpp"
#include "actors/flow_actor.hpp"
#include "actors/helper_actor.hpp"
#include "actors/item_actor.hpp"
#include "actors/limit_controller.hpp"
#include "actors/messages.hpp"
#include "actors/scheduler/scheduler.hpp"
#include "actors/scheduler/virtual_clock.hpp"
#include "core/flow_graph.hpp"
#include "core/flow_json.hpp"
#include "observe/otlp_exporter.hpp"
#include "run_state.hpp"
#include "store/run_checkpoint.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <unordered_map>

namespace actorflow {

namespace detail {

struct RuntimeImpl {
  explicit RuntimeImpl(RuntimeConfig config) {
    workers = config.worker_threads != 0
                  ? config.worker_threads
                  : std::max<std::size_t>(2, std::thread::hardware_concurrency());
    auto environment = std::make_shared<actors::Environment>();
    environment->nodes = std::move(config.nodes);
    environment->models = std::move(config.models);
    environment->prices = config.prices;
    if (!environment->models.contains("local"))
      environment->models.add("local", make_local_provider());
    environment->spawn_flow = &actors::spawn_child_flow;
    environment->log = config.log ? std::move(config.log) : [](std::string_view line) {
      std::string text(line);
      text += '\n';
      std::fwrite(text.data(), 1, text.size(), stderr); // one write per line: no interleaving
    };
    cfg.set("scheduler.max-threads", workers);
    clock = std::move(config.clock);
    // Spans are timed on the actors' clock. Read here without the actor system, so that a
    // model call ending on a provider thread after shutdown can still read it. Weak: pending
    // timers of the virtual clock hold actors, which hold this (a cycle otherwise); a clock
    // that is gone reads as the epoch, which makes the late span's duration zero.
    if (clock)
      now = [weak = std::weak_ptr<testing::VirtualClock>(clock)] {
        auto c = weak.lock();
        return c ? c->actor_clock().now() : detail::SpanSink::TimePoint{};
      };
    else
      now = [] { return std::chrono::steady_clock::now(); };
    origin = now();
    checkpoints = std::move(config.checkpoints);
    if (!config.trace_file.empty()) {
      trace_file = std::move(config.trace_file);
      trace = std::make_shared<TraceWriter>();
    }
    trace_dir = std::move(config.trace_dir);
    actors::install_scheduler(cfg, config.scheduler, &actors::as_timeout_tracked,
                              clock ? &clock->actor_clock() : nullptr);
    auto& cluster = config.cluster;
    const bool network = cluster.network || !cluster.nodes.empty() || !cluster.tls.empty();
    if (network) {
      if (auto loaded = actors::load_network(cfg, cluster); !loaded) {
        network_error = loaded.error();
        environment->log("cluster: " + network_error->message +
                         "; the runtime runs without the network");
      }
    } else {
      network_error = Error{Errc::bad_input, "the runtime has no network: set "
                                             "RuntimeConfig::cluster (network, nodes or tls)"};
    }
    system = std::make_unique<caf::actor_system>(cfg);
    environment->controllers = std::make_shared<actors::LimitControllers>(
        *system, std::move(config.limits), std::move(config.prices));
    if (!network_error) {
      auto gateway = actors::spawn_limit_gateway(*system, environment->controllers);
      environment->cluster = std::make_shared<actors::Cluster>(
          *system, std::move(cluster), workers, environment->log, std::move(gateway));
    }
    if (auto otlp_settings = resolve_otlp(std::move(config.otlp), process_environment());
        !otlp_settings)
      environment->log("otlp: " + otlp_settings.error().message + "; spans are not exported");
    else if (*otlp_settings) {
      for (const auto& warning : (*otlp_settings)->warnings)
        environment->log("otlp: " + warning);
      environment->exporter = otlp = std::make_shared<OtlpExporter>(std::move(**otlp_settings));
    }
    env = std::move(environment);
  }

  void forget(const RunState& run) {
    {
      std::lock_guard lock{mutex};
      live.erase(run.id);
      // Only its own entry: a durable id may look like another run's number.
      if (auto it = named.find(run.name); it != named.end() && it->second.lock().get() == &run)
        named.erase(it);
    }
    env->controllers->run_ended(run.id); // its budgets go
  }

  /// The live run known as `name` (RunHandle::name), or null.
  std::shared_ptr<RunState> live_run(const std::string& name) {
    std::lock_guard lock{mutex};
    auto it = named.find(name);
    return it == named.end() ? nullptr : it->second.lock();
  }

  [[nodiscard]] bool stopping() {
    std::lock_guard lock{mutex};
    return stopped;
  }

  void shutdown() {
    std::vector<std::shared_ptr<RunState>> runs;
    std::vector<std::shared_ptr<ActorSlot>> slots;
    {
      std::lock_guard lock{mutex};
      if (stopped)
        return;
      stopped = true;
      for (auto& [id, weak] : live)
        if (auto run = weak.lock())
          runs.push_back(std::move(run));
      slots.swap(helpers);
    }
    for (auto& run : runs) {
      run->cancel();
      // Handles into the system must be gone before it is: the exit message is on its way.
      run->drop_canceller();
    }
    env->controllers->stop();
    if (env->cluster)
      env->cluster->disconnect();
    for (auto& host : node_hosts)
      caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    node_hosts.clear();
    for (auto& slot : slots) {
      if (auto actor = slot->get())
        caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
      slot->clear();
    }
    // Waits for every actor to terminate; killed roots complete their runs with `cancelled`.
    system.reset();
    write_trace();
    stop_export();
  }

  /// Sends the spans still queued (bounded by the exporter's shutdown_timeout), and says in
  /// the log what could not be sent.
  void stop_export() {
    if (!otlp)
      return;
    otlp->shutdown();
    const auto stats = otlp->stats();
    if (stats.dropped + stats.failed > 0)
      env->log("otlp: " + std::to_string(stats.exported) + " spans exported, " +
               std::to_string(stats.dropped) + " dropped, " + std::to_string(stats.failed) +
               " failed" + (stats.last_error.empty() ? "" : " (latest: " + stats.last_error + ")"));
  }

  /// Rewrites the trace file, if there is one, with every span so far. One writer at a time:
  /// runs that end together must not rename an older snapshot over a newer one.
  void write_trace() {
    if (!trace)
      return;
    std::lock_guard lock{trace_mutex};
    if (auto written = trace->write(trace_file); !written)
      env->log(written.error().message);
  }

  /// Writes a durable run's own trace to `<trace_dir>/<run_id>.json`. A run id may hold any
  /// character: one that would lead to another file is refused (logged), not written there.
  void write_run_trace(const TraceWriter& writer, const std::string& run_id) {
    const auto path = run_trace_path(trace_dir, run_id);
    if (!path) {
      env->log("trace_dir: run '" + run_id + "': its id is no file name; no trace written");
      return;
    }
    if (auto written = writer.write(*path); !written)
      env->log(written.error().message);
  }

  actors::EnvironmentPtr env;
  std::size_t workers = 0;
  std::shared_ptr<testing::VirtualClock> clock; // outlives the system (declared before it)
  caf::actor_system_config cfg;                 // must outlive the system
  std::unique_ptr<caf::actor_system> system;
  std::function<detail::SpanSink::TimePoint()> now; // the actors' clock, for spans
  detail::SpanSink::TimePoint origin;               // when the Runtime was made, on it
  std::string trace_file;                           // RuntimeConfig::trace_file
  std::string trace_dir;                            // RuntimeConfig::trace_dir
  std::shared_ptr<CheckpointStore> checkpoints;     // RuntimeConfig::checkpoints
  std::shared_ptr<TraceWriter> trace;               // set when trace_file is
  std::mutex trace_mutex;                           // held while the file is written
  std::shared_ptr<OtlpExporter> otlp;               // when spans are exported

  std::mutex mutex;
  bool stopped = false;                                            // guarded by mutex
  std::uint64_t next_run_id = 1;                                   // guarded by mutex
  std::unordered_map<std::uint64_t, std::weak_ptr<RunState>> live; // guarded by mutex
  std::unordered_map<std::string, std::weak_ptr<RunState>> named;  // ... by RunState::name
  std::vector<std::shared_ptr<ActorSlot>> helpers;                 // guarded by mutex
  std::vector<caf::actor> node_hosts; // Runtime::serve's; guarded by mutex
  std::optional<Error> network_error; // why serve and add_node cannot work (none: they can)
};

} // namespace detail

// -- Runtime ------------------------------------------------------------------------------------

Runtime::Runtime(RuntimeConfig config)
    : impl_(std::make_unique<detail::RuntimeImpl>(std::move(config))) {}

Runtime::~Runtime() { impl_->shutdown(); }

void Runtime::shutdown() { impl_->shutdown(); }

OtlpStats Runtime::otlp_stats() const { return impl_->otlp ? impl_->otlp->stats() : OtlpStats{}; }

namespace {

// A handle whose run ended before any actor ran: it failed to start, or (resumed) it had
// finished already.
// Completes a run that never started: its stream still ends with RunFinished.
void complete_unstarted(detail::RuntimeImpl& impl, detail::RunState& run, Result<RunResult> outcome,
                        std::function<void(const RunEvent&)> on_event = nullptr) {
  if (run.name.empty())
    run.name = std::to_string(run.id);
  run.events = std::make_shared<detail::EventHub>(StreamMode::none, std::move(on_event), impl.now);
  RunFinished finished;
  if (outcome.ok())
    finished.state = outcome->state;
  else
    finished.error = outcome.error();
  run.events->finish(std::move(finished));
  run.complete(std::move(outcome));
}

RunHandle ended_run(detail::RuntimeImpl& impl, Result<RunResult> outcome, const RunOptions& options,
                    std::string name = {}) {
  std::unique_lock lock{impl.mutex};
  auto run = std::make_shared<detail::RunState>(impl.next_run_id++);
  lock.unlock();
  run->name = std::move(name);
  complete_unstarted(impl, *run, std::move(outcome), options.on_event);
  return RunHandle(run);
}

RunStatus status_of(const Result<RunResult>& outcome) {
  if (outcome.ok())
    return RunStatus::succeeded;
  return outcome.error().code == Errc::cancelled ? RunStatus::cancelled : RunStatus::failed;
}

// A durable run's end: its last item outcomes committed, its status recorded (`interrupted`
// instead of `cancelled` when the Runtime shut down while it waited for answers). A write that
// fails turns a success into the run's error.
void end_durable_run(detail::RunCheckpoint& checkpoint, Result<RunResult>& outcome,
                     bool interrupted = false) {
  auto flushed = checkpoint.items->flush();
  if (!flushed && outcome.ok())
    outcome = Error{flushed.error().code, "checkpoint: " + flushed.error().message};
  auto status = interrupted ? RunStatus::interrupted : status_of(outcome);
  auto ended = checkpoint.store->end_run(checkpoint.run_id, status,
                                         outcome.ok() ? std::string() : outcome.error().to_string(),
                                         checkpoint.cost ? checkpoint.cost() : 0.0);
  if (!ended && outcome.ok())
    outcome = Error{ended.error().code, "checkpoint: " + ended.error().message};
}

} // namespace

RunHandle Runtime::run(const Flow& flow, State initial, RunOptions options) {
  std::shared_ptr<detail::RunCheckpoint> checkpoint;
  if (!options.run_id.empty()) {
    auto& store = impl_->checkpoints;
    if (!store)
      return ended_run(*impl_,
                       Error{Errc::bad_input, "run '" + options.run_id +
                                                  "': a run id needs a checkpoint store "
                                                  "(RuntimeConfig::checkpoints)"},
                       options);
    const std::string graph = detail::flow_graph_json(*detail::FlowAccess::graph(flow));
    if (auto begun = store->begin_run(options.run_id, flow.name(), initial, graph); !begun)
      return ended_run(*impl_, begun.error(), options);
    checkpoint = std::make_shared<detail::RunCheckpoint>();
    checkpoint->store = store;
    checkpoint->run_id = options.run_id;
  }
  return start(flow, std::move(initial), std::move(options), std::move(checkpoint));
}

RunHandle Runtime::resume(const Flow& flow, const std::string& run_id, RunOptions options) {
  options.run_id.clear();
  auto& store = impl_->checkpoints;
  auto fail = [&](std::string why) {
    return ended_run(*impl_, Error{Errc::bad_input, "resume '" + run_id + "': " + why}, options,
                     run_id);
  };
  if (!store)
    return fail("no checkpoint store (RuntimeConfig::checkpoints)");
  auto loaded = store->load_run(run_id);
  if (!loaded)
    return ended_run(*impl_, loaded.error(), options, run_id);
  if (loaded->record.flow != flow.name())
    return fail("it is a run of flow '" + loaded->record.flow + "', not of '" + flow.name() + "'");
  auto checkpoint = std::make_shared<detail::RunCheckpoint>();
  checkpoint->store = store;
  checkpoint->run_id = run_id;
  State state = std::move(loaded->initial);
  if (const auto& step = loaded->last_step) {
    state = step->state;
    checkpoint->steps_done = step->step;
    if (step->next_node.empty()) { // it had finished: nothing runs again
      if (loaded->record.status != RunStatus::succeeded)
        if (auto ended = store->end_run(run_id, RunStatus::succeeded, ""); !ended)
          return ended_run(*impl_, ended.error(), options, run_id);
      return ended_run(*impl_,
                       RunResult{std::move(state), {}, {}, {"resume: the run had finished"}},
                       options, run_id);
    }
    const auto& vertices = detail::FlowAccess::graph(flow)->vertices;
    auto at = std::find_if(vertices.begin(), vertices.end(),
                           [&](const detail::Vertex& v) { return v.name == step->next_node; });
    if (at == vertices.end())
      return fail("its next node '" + step->next_node + "' is not in flow '" + flow.name() + "'");
    checkpoint->start_vertex = static_cast<std::size_t>(at - vertices.begin());
  }
  auto items = store->load_items(run_id);
  if (!items)
    return ended_run(*impl_, items.error(), options, run_id);
  checkpoint->committed = std::move(*items);
  auto interrupts = store->load_interrupts(run_id);
  if (!interrupts)
    return ended_run(*impl_, interrupts.error(), options, run_id);
  checkpoint->interrupts = std::move(*interrupts);
  if (auto reopened = store->reopen_run(run_id); !reopened)
    return ended_run(*impl_, reopened.error(), options, run_id);
  checkpoint->cost_before = loaded->record.cost;
  return start(flow, std::move(state), std::move(options), std::move(checkpoint));
}

RunHandle Runtime::start(const Flow& flow, State initial, RunOptions options,
                         std::shared_ptr<detail::RunCheckpoint> checkpoint) {
  auto& impl = *impl_;
  std::unique_lock lock{impl.mutex};
  auto run = std::make_shared<detail::RunState>(impl.next_run_id++);
  if (checkpoint) {
    // A resumed run's cost adds this run's calls to what it had recorded.
    checkpoint->cost = [meter = run->meter, before = checkpoint->cost_before] {
      return before + meter->cost();
    };
    checkpoint->items = std::make_unique<detail::ItemWriter>(checkpoint->store, checkpoint->run_id,
                                                             checkpoint->cost);
  }
  // Refused before any actor runs; a durable run is recorded as ended, not left `running`.
  auto refuse = [&](Error error) {
    lock.unlock();
    Result<RunResult> outcome = std::move(error);
    if (checkpoint)
      end_durable_run(*checkpoint, outcome);
    complete_unstarted(impl, *run, std::move(outcome), options.on_event);
    return RunHandle(run);
  };
  if (impl.stopped)
    return refuse(Error{Errc::cancelled, "run: the runtime has shut down"});
  if (auto missing = detail::missing_node_types(*detail::FlowAccess::graph(flow), impl.env->nodes);
      !missing.empty()) {
    std::string message;
    for (const auto& line : missing)
      message += (message.empty() ? "" : "; ") + line;
    return refuse(Error{Errc::invalid_flow, std::move(message)});
  }
  // As W3C trace context says of a header that does not parse: logged, and the run starts a
  // trace of its own. One whose caller does not record its trace is not exported either.
  std::optional<detail::TraceParent> trace_parent;
  bool exported_run = impl.otlp != nullptr;
  if (!options.trace_parent.empty() && impl.otlp) {
    if (auto parsed = detail::parse_traceparent(options.trace_parent); !parsed)
      impl.env->log("run: " + parsed.error().message + "; the run starts a trace of its own");
    else if (!parsed->sampled)
      exported_run = false;
    else
      trace_parent = *parsed;
  }
  run->name = checkpoint ? checkpoint->run_id : std::to_string(run->id);
  run->events =
      std::make_shared<detail::EventHub>(options.stream, std::move(options.on_event), impl.now);
  run->interrupts = std::make_shared<detail::InterruptBoard>(
      run->name, checkpoint ? checkpoint->store : nullptr,
      checkpoint ? checkpoint->run_id : std::string(), run->events);
  if (checkpoint)
    run->interrupts->restore(std::move(checkpoint->interrupts));
  impl.live.emplace(run->id, run);
  impl.named[run->name] = run;
  auto* owner = &impl; // outlives every actor: shutdown waits for them
  // Spans only when someone listens: without a sink, no actor times anything.
  // A durable run's own trace file (RuntimeConfig::trace_dir), written when it ends.
  std::shared_ptr<TraceWriter> run_trace;
  if (checkpoint && !impl.trace_dir.empty())
    run_trace = std::make_shared<TraceWriter>();
  std::shared_ptr<detail::SpanSink> spans;
  if (options.on_span || options.trace || impl.trace || run_trace || exported_run) {
    spans = std::make_shared<detail::SpanSink>();
    spans->now = impl.now;
    spans->origin = spans->now();
    spans->to_host = options.on_span;
    std::function<void(const SpanEvent&)> exported;
    if (exported_run) {
      spans->otlp = detail::new_trace(run->name, trace_parent);
      exported = impl.otlp->hook(spans->otlp);
    }
    if (options.trace || impl.trace || run_trace || exported)
      spans->to_writers = [trace = options.trace, file = impl.trace, run_trace, run_id = run->id,
                           offset = spans->origin - impl.origin,
                           exported = std::move(exported)](const SpanEvent& span) {
        if (trace)
          trace->record(span, run_id);
        if (file)
          file->record(span, run_id, offset);
        if (run_trace)
          run_trace->record(span, run_id);
        if (exported)
          exported(span);
      };
  }
  auto hooks = std::make_shared<const actors::RunHooks>(std::move(options), run->id, run->meter,
                                                        std::move(spans), std::move(checkpoint),
                                                        run->events, run->interrupts);
  auto on_done = [owner, run, hooks, run_trace](Result<RunResult> outcome) {
    hooks->end_reports(); // before the host learns that the run has ended
    // A durable run's interrupts outlive a Runtime that shuts down: they stay pending in the
    // store, to be answered and resumed. Otherwise the run's end cancels them.
    const bool keep = hooks->checkpoint && owner->stopping();
    const bool waited = run->interrupts->close(keep) > 0;
    if (hooks->checkpoint)
      end_durable_run(*hooks->checkpoint, outcome, keep && waited && !outcome.ok());
    owner->forget(*run);
    if (outcome.ok())
      outcome->usage = run->meter->snapshot();
    owner->write_trace(); // before the handle completes: its waiter may open the file
    if (run_trace)
      owner->write_run_trace(*run_trace, hooks->checkpoint->run_id);
    RunFinished finished;
    if (outcome.ok())
      finished.state = outcome->state;
    else
      finished.error = outcome.error();
    run->events->finish(std::move(finished)); // the stream's last event, before get() returns
    run->complete(std::move(outcome));
  };
  auto root = actors::spawn_root_flow(*impl.system, actors::Scope{impl.env, hooks, ""},
                                      detail::FlowAccess::graph(flow), std::move(on_done));
  run->set_canceller([root] { caf::anon_send_exit(root, caf::exit_reason::user_shutdown); });
  // Sent under the lock so that shutdown cannot tear the system down in between.
  caf::anon_send(root, actors::run_atom::value, std::move(initial));
  return RunHandle(run);
}

ActorRef Runtime::spawn_actor(ActorHandler handler) {
  auto slot = std::make_shared<detail::ActorSlot>();
  std::lock_guard lock{impl_->mutex};
  if (impl_->stopped)
    return ActorRef(slot); // refers to nothing: asks fail with cancelled
  slot->actor = actors::spawn_helper_actor(*impl_->system, std::move(handler));
  impl_->helpers.push_back(slot);
  return ActorRef(slot);
}

Result<void> Runtime::answer(const std::string& run_id, const std::string& interrupt_id,
                             Value answer) {
  if (auto run = impl_->live_run(run_id))
    return run->interrupts->answer(interrupt_id, std::move(answer));
  if (!impl_->checkpoints)
    return Error{Errc::bad_input, "answer: no live run '" + run_id +
                                      "' (and no checkpoint store to find a durable one in)"};
  return impl_->checkpoints->answer_interrupt(run_id, interrupt_id, answer);
}

Result<std::vector<Interrupt>> Runtime::interrupts(const std::string& run_id) const {
  if (auto run = impl_->live_run(run_id))
    return run->interrupts->pending();
  if (!impl_->checkpoints)
    return Error{Errc::bad_input, "interrupts: no live run '" + run_id +
                                      "' (and no checkpoint store to find a durable one in)"};
  auto recorded = impl_->checkpoints->load_interrupts(run_id);
  if (!recorded)
    return recorded.error();
  std::vector<Interrupt> pending;
  for (auto& interrupt : *recorded)
    if (interrupt.status == InterruptStatus::pending)
      pending.push_back(std::move(interrupt));
  return pending;
}

std::size_t Runtime::worker_threads() const noexcept { return impl_->workers; }

const NodeRegistry& Runtime::nodes() const noexcept { return impl_->env->nodes; }
const ModelRegistry& Runtime::models() const noexcept { return impl_->env->models; }

std::vector<LimitStats> Runtime::limit_stats() const { return impl_->env->controllers->stats(); }

Result<std::uint16_t> Runtime::serve(const ServeOptions& options) {
  auto& impl = *impl_;
  if (impl.network_error)
    return Error{impl.network_error->code, "serve: " + impl.network_error->message};
  {
    std::lock_guard lock{impl.mutex};
    if (impl.stopped)
      return Error{Errc::cancelled, "serve: the runtime has shut down"};
  }
  auto served = actors::serve_node(*impl.system, impl.env, impl.env->cluster->config(), options,
                                   impl.workers);
  if (!served)
    return served.error();
  std::lock_guard lock{impl.mutex};
  if (impl.stopped) { // shut down while it bound
    caf::anon_send_exit(served->first, caf::exit_reason::user_shutdown);
    return Error{Errc::cancelled, "serve: the runtime has shut down"};
  }
  impl.node_hosts.push_back(std::move(served->first));
  return served->second;
}

Result<void> Runtime::add_node(const std::string& address) {
  auto& impl = *impl_;
  if (impl.network_error)
    return Error{impl.network_error->code, "add_node: " + impl.network_error->message};
  return impl.env->cluster->connect(address);
}

bool Runtime::wait_for_nodes(std::chrono::milliseconds timeout) const {
  return !impl_->env->cluster || impl_->env->cluster->wait_connected(timeout);
}

std::vector<NodeStatus> Runtime::cluster_status() const {
  return impl_->env->cluster ? impl_->env->cluster->status() : std::vector<NodeStatus>{};
}

} // namespace actorflow
