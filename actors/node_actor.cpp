// The actors that run nodes. A node actor runs one node execution: prep, exec and post of a
// fresh node instance, and hosts exec's coroutine: every await arranges a message to the actor,
// whose handler resumes the coroutine, so a suspended node holds no thread and its code never
// runs concurrently.
//
// - The node actor (stateful, function-based) plays two parts:
//   - single: a plain node (prep, exec, post) answering its flow actor;
//   - batch:  a ParallelBatchNode: prep and items here, then one item actor per item under a
//             window of max_concurrency, outcomes gathered in input order (or folded as they
//             complete), then post_batch; this is the fan-out primitive.
// - The item actor (a small class-based actor, one per item of a batch): gets its item when it
//   is spawned, runs exec(item) on a fresh node instance, sends its outcome to the batch actor
//   and quits. It is kept small because a batch makes millions of them.

#include "actors/actor_slot.hpp"
#include "actors/cluster.hpp"
#include "actors/limit_controller.hpp"
#include "actors/scheduler.hpp"
#include "actors/step_actors.hpp"
#include "core/batch_tally.hpp"
#include "core/guard.hpp"
#include "core/outcome_codec.hpp"
#include "core/run_meter.hpp"
#include "store/run_checkpoint.hpp"

#include <actorflow/batch.hpp>
#include <actorflow/checkpoint.hpp>
#include <actorflow/context.hpp>
#include <actorflow/flow.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <coroutine>
#include <deque>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <typeinfo>
#include <unordered_map>
#include <variant>
#include <vector>

namespace actorflow::actors {

namespace {

// A uniform sample in [0, 1) for backoff jitter. One generator per thread, seeded once: node
// actors are made for every step, and seeding each from std::random_device is a system call.
double jitter_sample() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

// What a node actor runs, shared (immutable) by a batch actor and all of its item actors, so
// that spawning an item copies one pointer instead of a scope, a name and a factory.
struct NodeSpec {
  Scope scope;
  std::string name;
  NodeFactory factory;
  std::optional<RetryPolicy> flow_policy; // the flow's policy for this node, if any
  std::string path; // scope.path + name: in every event, log line and error of the node
  // The name its type is registered under (FlowBuilder::registered_node), "" when it was
  // added by factory: only a registered node's items can run on cluster nodes.
  std::string registered_type;
};
using NodeSpecPtr = std::shared_ptr<const NodeSpec>;

// Hosts one exec coroutine inside an actor: the ExecHost side of Context. Shared by the node
// actor and the item actor; each says what happens when exec ends. An attempt can be
// abandoned (timed out): its coroutine is destroyed, its sub-flows stopped, and every reply
// still on its way for it is recognised as stale by its generation and ignored.
class ExecSite : public detail::ExecHost {
public:
  ExecSite(caf::event_based_actor* self, NodeSpecPtr spec) : self_(self), spec_(std::move(spec)) {}
  ExecSite(const ExecSite&) = delete;
  ExecSite& operator=(const ExecSite&) = delete;

  // -- ExecHost: each call ends in a message to this actor that resumes `h` --------------------

  void sleep(std::chrono::nanoseconds delay, std::coroutine_handle<> h) override {
    if (delay <= std::chrono::nanoseconds{0})
      return resume_soon(h);
    auto token = next_token_++;
    sleepers_.emplace(token, h);
    self_->delayed_send(self_, std::chrono::duration_cast<std::chrono::microseconds>(delay),
                        wake_atom::value, token);
  }

  /// Resumes `h` from this actor's mailbox: never synchronously (the awaiter has not suspended
  /// yet), and not through a timer (which a virtual clock would hold until time moves).
  void resume_soon(std::coroutine_handle<> h) {
    auto token = next_token_++;
    sleepers_.emplace(token, h);
    self_->send(self_, wake_atom::value, token);
  }

  void run_flow(const Flow& flow, State initial, std::coroutine_handle<> h,
                std::optional<Result<RunResult>>& out) override {
    auto child =
        spawn_child_flow(self_, spec_->scope.nested(spec_->name, span_parent_), flow.graph());
    attempt_children_.push_back(child);
    auto where = "sub-flow '" + flow.name() + "'";
    self_->request(child, caf::infinite, run_atom::value, std::move(initial))
        .then(
            [this, h, &out, gen = generation_](StepReply& reply) {
              if (gen != generation_)
                return; // for an abandoned attempt
              out = std::move(reply).take();
              resume(h);
            },
            [this, h, &out, where, gen = generation_](caf::error& err) {
              if (gen != generation_)
                return;
              out = to_error(err, where);
              resume(h);
            });
  }

  void ask(const ActorRef& target, Value request, std::chrono::nanoseconds timeout,
           std::coroutine_handle<> h, std::optional<Result<Value>>& out) override {
    caf::actor dest = target.valid() ? target.slot()->get() : caf::actor{};
    if (!dest) {
      out = Error{target.valid() ? Errc::cancelled : Errc::bad_input,
                  target.valid() ? "ask: the actor's runtime has shut down"
                                 : "ask: the ActorRef refers to no actor"};
      resume_soon(h);
      return;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    self_->request(dest, ms, ask_atom::value, std::move(request))
        .then(
            [this, h, &out, gen = generation_](AskReply& reply) {
              if (gen != generation_)
                return;
              if (reply.value)
                out = std::move(*reply.value);
              else
                out = std::move(reply.error);
              resume(h);
            },
            [this, h, &out, gen = generation_](caf::error& err) {
              if (gen != generation_)
                return;
              out = to_error(err, "ask");
              resume(h);
            });
  }

  void log(std::string_view message) override {
    if (!spec_->scope.env->log)
      return;
    // Appended piece by piece: "literal" + std::string&& trips GCC 12's -Wrestrict at -O3.
    std::string line = "[";
    line.append(spec_->path).append("] ").append(message);
    spec_->scope.env->log(line);
  }

  void crash_self() override {
    caf::anon_send_exit(caf::actor_cast<caf::actor>(self_), caf::exit_reason::kill);
  }

  void await_external(std::function<void(std::function<void()> wake)> start,
                      std::coroutine_handle<> h) override {
    auto token = next_token_++;
    sleepers_.emplace(token, h);
    // Weak: a model call that outlives its node (timed out, cancelled) must not keep the
    // actor alive; its wake then finds no one and is dropped.
    caf::weak_actor_ptr me(self_->ctrl());
    start([me = std::move(me), token] {
      if (auto strong = me.lock())
        caf::anon_send(caf::actor_cast<caf::actor>(strong), wake_atom::value, token);
    });
  }

  // Every model call first asks the resource controller of its (provider, model) key for a
  // grant: this Runtime's, or for an item of another Runtime's run (a cluster node runs it)
  // that Runtime's, found through its limit gateway, so that limits hold across the cluster.
  void acquire(std::string_view provider, std::string_view model, std::uint64_t tokens,
               std::coroutine_handle<> h, std::optional<Result<detail::ModelLeasePtr>>& out) override {
    LeaseReport report{remote_limits_ ? remote_limits_->hooks : spec_->scope.hooks,
                       std::string(provider),
                       std::string(model),
                       spec_->path,
                       ctx_ ? ctx_->item_index() : std::nullopt,
                       tokens,
                       {},
                       {},
                       0,
                       0};
    OpenSpan wait; // the grant wait's span, when the run is traced
    if (auto* sink = spec_->scope.spans()) {
      wait = OpenSpan{sink->new_id(), sink->now()};
      report.span_parent = span_parent_;
      report.attempt = attempt_;
    }
    if (!remote_limits_) {
      const auto& controllers = spec_->scope.env->controllers;
      auto controller = controllers->controller(provider, model);
      if (!controller) {
        out = Error{Errc::cancelled, "model call: the runtime is shutting down"};
        resume_soon(h);
        return;
      }
      const auto& hooks = *spec_->scope.hooks;
      return request_grant(std::move(controller), controllers->next_lease_id(), hooks.run_id,
                           hooks.options.weight, std::move(report), wait, h, out);
    }
    self_->request(remote_limits_->gateway, caf::infinite, ctrl_atom::value, report.provider,
                   report.model)
        .then(
            [this, h, &out, report = std::move(report), wait,
             gen = generation_](caf::actor& controller, std::uint64_t id) mutable {
              if (gen == generation_)
                request_grant(std::move(controller), id, remote_limits_->run,
                              remote_limits_->weight, std::move(report), wait, h, out);
            },
            [this, h, &out, gen = generation_](caf::error& err) {
              if (gen != generation_)
                return;
              out = to_error(err, "model call: the run's limit gateway");
              resume(h);
            });
  }

  // Asks `controller` for lease `id`; resumes `h` with the lease or the refusal.
  void request_grant(caf::actor controller, std::uint64_t id, std::uint64_t run, double weight,
                     LeaseReport report, OpenSpan wait, std::coroutine_handle<> h,
                     std::optional<Result<detail::ModelLeasePtr>>& out) {
    pending_grants_.emplace(id, controller);
    const auto tokens = report.estimated_tokens;
    // Before `report` moves into the first handler (the handlers' order is unspecified).
    auto key = wait ? report.provider + "/" + report.model : std::string{};
    self_->request(controller, caf::infinite, acquire_atom::value, id, run, weight, tokens)
        .then(
            [this, h, &out, id, controller, report = std::move(report), wait,
             gen = generation_](bool granted, std::uint8_t code, std::string& message,
                                std::int64_t waited_ns) mutable {
              pending_grants_.erase(id);
              if (gen != generation_)
                return; // abandoned: the cancel sent then returns the grant
              std::optional<Error> refused;
              if (!granted)
                refused = Error{static_cast<Errc>(code), std::move(message)};
              report.waited = std::chrono::nanoseconds{waited_ns};
              if (wait) {
                // The wait ends and, when granted, the call's span starts at the same instant.
                auto* sink = spec_->scope.spans();
                auto now = sink->now();
                sink->report(SpanEvent::Kind::grant_wait, report.provider + "/" + report.model,
                             report.item, report.attempt, wait.id, report.span_parent, wait.start,
                             refused, now);
                if (!refused)
                  report.span = OpenSpan{sink->new_id(), now};
              }
              if (refused) {
                report_refused(report, *refused);
                out = std::move(*refused);
              } else {
                out = make_lease(controller, id, std::move(report));
              }
              resume(h);
            },
            [this, h, &out, id, wait, key = std::move(key), parent = span_parent_,
             gen = generation_](caf::error& err) mutable {
              pending_grants_.erase(id);
              if (gen != generation_)
                return;
              out = to_error(err, "model call");
              if (wait)
                spec_->scope.spans()->report(SpanEvent::Kind::grant_wait, std::move(key),
                                             ctx_ ? ctx_->item_index() : std::nullopt, attempt_,
                                             wait.id, parent, wait.start, out->error());
              resume(h);
            });
  }

  [[nodiscard]] const ModelRegistry& models() const override { return spec_->scope.env->models; }

  void add_used_tokens(std::uint64_t tokens) override { tokens_ += tokens; }

  /// A timer of this actor fired.
  void wake(std::uint64_t token) {
    auto it = sleepers_.find(token);
    if (it == sleepers_.end())
      return; // for an abandoned attempt
    auto h = it->second;
    sleepers_.erase(it);
    resume(h);
  }

protected:
  ~ExecSite() = default;

  /// Describes what runs for error messages: "node 'a/b' exec".
  [[nodiscard]] virtual std::string where(const char* step) const = 0;
  /// exec (or its fallback) produced a value.
  virtual void exec_succeeded(Value result) = 0;
  /// exec failed. `retry`: the policy retries this error (the fallback was not called);
  /// otherwise the fallback failed too, or the node could not even be made.
  virtual void exec_failed(const Error& error, bool retry) = 0;

  /// Makes the node instance; on failure reports it through exec_failed.
  bool make_node() {
    auto made = detail::guarded([&] { return where("factory"); }, [&] { return new_instance(); });
    if (!made) {
      exec_failed(made.error(), false);
      return false;
    }
    node_ = std::move(*made);
    return true;
  }

  /// The retry policy: the node's own, else the flow's; null when there is none.
  [[nodiscard]] const RetryPolicy* resolve_policy() const {
    if (node_ && node_->retry_policy())
      return &*node_->retry_policy();
    return spec_->flow_policy ? &*spec_->flow_policy : nullptr;
  }

  /// Starts attempt `attempt` of exec on `input`, which the caller keeps alive until exec has
  /// ended (the fallback reads it too); exec gets its own copy. Its end arrives in
  /// exec_succeeded or exec_failed, now or after awaits.
  void start_exec(const Value& input, std::optional<std::size_t> index, std::uint32_t attempt) {
    attempt_ = attempt;
    exec_running_ = true;
    exec_input_ = &input;
    ctx_.emplace(*this, spec_->name, index);
    auto started = detail::guarded([&] { return where("exec"); }, [&] {
      task_ = node_->exec(input, *ctx_);
      task_.start(); // runs to the first await; an exception is kept in the task
    });
    if (!started)
      return after_exec(started.error());
    after_resume();
  }

  /// Reports `span` (if open) as ending now, and closes it. Only when the run is traced.
  void end_span(OpenSpan& span, SpanEvent::Kind kind, std::optional<std::size_t> item,
                std::uint32_t attempt, std::uint64_t parent,
                std::optional<Error> error = std::nullopt) const {
    if (!span)
      return;
    spec_->scope.spans()->report(kind, spec_->path, item, attempt, span.id, parent, span.start,
                                 std::move(error));
    span = {};
  }

  /// Ends the running attempt's span, when this site times its own attempts (a single node;
  /// an item's attempts are timed by its batch, which sees them start, time out and die).
  void end_attempt_span(std::optional<Error> error) {
    end_span(attempt_span_, SpanEvent::Kind::attempt, std::nullopt, attempt_, spec_->scope.span,
             std::move(error));
  }

  /// Gives up on the running attempt (it timed out): destroys its coroutine, stops its
  /// sub-flows, and makes every reply still due to it stale.
  void abandon_exec() {
    ++generation_;
    exec_running_ = false;
    for (auto& [id, controller] : pending_grants_)
      self_->send(controller, cancel_atom::value, id);
    pending_grants_.clear();
    task_ = {};
    sleepers_.clear();
    for (auto& child : attempt_children_) {
      self_->unlink_from(child); // linked for cancellation; its death must not take us along
      self_->send_exit(child, caf::exit_reason::kill);
    }
    attempt_children_.clear();
  }

  /// Frees exec's coroutine frame, context and node instance. An item actor calls this as soon
  /// as it has its outcome: they were allocated on this worker thread and are freed here too,
  /// instead of on whichever thread drops the actor's last reference (cross-thread frees
  /// contend on the allocator's locks).
  void release_exec() {
    task_ = {};
    sleepers_.clear();
    ctx_.reset();
    exec_input_ = nullptr;
    node_.reset();
  }

  /// A fresh instance of the node; throws when the factory makes none.
  [[nodiscard]] std::unique_ptr<Node> new_instance() const {
    auto n = spec_->factory();
    if (!n)
      throw Failure(Error{Errc::invalid_flow, "the factory returned no node"});
    return n;
  }

  /// `node`'s exec_fallback for exec's `error` on `input`: a value, or the error to report
  /// (exec's own when the fallback rethrew it, as the default one does, not a wrapped copy).
  [[nodiscard]] Result<Value> fallback_of(Node& node, const Value& input, const Error& error) const {
    auto fallback = detail::guarded([&] { return where("exec_fallback"); },
                                    [&] { return node.exec_fallback(input, error); });
    if (!fallback && fallback.error().code == error.code)
      return error;
    return fallback;
  }

  // exec failed: retried (by whoever supervises), or the fallback may still supply a value.
  void after_exec(const Error& error) {
    end_attempt_span(error);
    exec_running_ = false;
    attempt_children_.clear();
    if (defer_failures_ || (policy_ && policy_->should_retry(error, attempt_)))
      return exec_failed(error, true);
    auto fallback = fallback_of(*node_, *exec_input_, error);
    if (!fallback)
      return exec_failed(fallback.error(), false);
    report_attempt(AttemptEvent::Kind::fallback_used, error);
    exec_succeeded(std::move(*fallback));
  }

  /// Reports a step of supervision to the run's on_attempt hook. `item` and `attempt` default
  /// to this site's own (a single node's, or an item actor's).
  void report_attempt(AttemptEvent::Kind kind, const Error& error, Millis delay = Millis{0},
                      std::optional<std::size_t> item = std::nullopt,
                      std::optional<std::uint32_t> attempt = std::nullopt) const {
    const auto& hooks = spec_->scope.hooks;
    if (!hooks->options.on_attempt)
      return;
    AttemptEvent event;
    event.kind = kind;
    event.node = spec_->path;
    event.item = item ? item : (ctx_ ? ctx_->item_index() : std::nullopt);
    event.attempt = attempt.value_or(attempt_);
    event.error = error;
    event.delay = delay;
    hooks->options.on_attempt(event);
  }

  caf::event_based_actor* self_;
  NodeSpecPtr spec_;
  std::unique_ptr<Node> node_;
  const RetryPolicy* policy_ = nullptr; // set once the node is made
  std::uint32_t attempt_ = 0;           // 1-based number of the current attempt
  std::uint64_t tokens_ = 0;            // used by model calls of this actor's attempts
  bool exec_running_ = false;
  // The span enclosing what the running attempt starts (grant waits, model calls, sub-flows):
  // the attempt's span; 0 when the run is not traced.
  std::uint64_t span_parent_ = 0;
  OpenSpan attempt_span_; // a single node's running attempt (items': see Slot)
  // An item run for another Runtime: model calls ask its controllers ...
  std::optional<RemoteLimits> remote_limits_;
  // ... and exec's error goes back as it is: that Runtime's batch decides about retries and
  // runs the fallback.
  bool defer_failures_ = false;

private:
  void resume(std::coroutine_handle<> h) {
    h.resume();
    after_resume();
  }

  void after_resume() {
    if (!task_.done())
      return; // suspended on another await; its message will resume it
    auto value = detail::guarded([&] { return where("exec"); }, [&] { return task_.take(); });
    if (value) {
      end_attempt_span(std::nullopt);
      exec_running_ = false;
      attempt_children_.clear();
      return exec_succeeded(std::move(*value));
    }
    after_exec(value.error());
  }

  std::uint64_t generation_ = 0;           // bumped when an attempt is abandoned
  std::vector<caf::actor> attempt_children_; // sub-flows started by the running attempt
  // Grants the running attempt waits for, by lease id: cancelled if it is abandoned.
  std::unordered_map<std::uint64_t, caf::actor> pending_grants_;
  // Destroyed in reverse order: the coroutine frame goes before what it refers to.
  const Value* exec_input_ = nullptr; // the running attempt's input, owned by the caller
  std::optional<Context> ctx_;
  std::uint64_t next_token_ = 0;
  std::unordered_map<std::uint64_t, std::coroutine_handle<>> sleepers_;
  Task<Value> task_; // last: its frame refers to node_ and ctx_
};

// -- the item actor -----------------------------------------------------------------------------

// What every item actor of one batch shares.
struct ItemSpec {
  NodeSpecPtr node;
  std::optional<RetryPolicy> policy; // resolved by the batch: its node's own, else the flow's
};
using ItemSpecPtr = std::shared_ptr<const ItemSpec>;

// One attempt at one item: exec on a fresh node instance, its outcome sent to the batch actor
// (its supervisor), which decides about retries. If it dies without an outcome (killed), it
// still reports, from on_exit: the supervisor learns of every death without a monitor and
// the extra down message per item that a monitor costs.
//
// On a cluster node, the item actor runs a launch of another Runtime's batch: its outcome goes
// back as msgpack (rdone_atom, with the launch), its host hears when it ends, and its model
// calls ask the batch's Runtime for grants.
class ItemActor final : public caf::event_based_actor, public TimeoutTracked, public ExecSite {
public:
  ItemActor(caf::actor_config& cfg, ItemSpecPtr spec, caf::actor parent, std::uint32_t slot,
            std::uint32_t launch, std::size_t index, std::uint32_t attempt, std::uint64_t span,
            Value item)
      : caf::event_based_actor(cfg), ExecSite(this, spec->node), item_spec_(std::move(spec)),
        parent_(std::move(parent)), item_(std::move(item)), index_(index), slot_(slot),
        launch_(launch) {
    attempt_ = attempt; // one attempt per item actor
    span_parent_ = span;
    if (item_spec_->policy)
      policy_ = &*item_spec_->policy;
  }

  // A launch from another Runtime; `host` hears (rgone_atom) when the actor ends.
  ItemActor(caf::actor_config& cfg, ItemSpecPtr spec, caf::actor host, RemoteLaunch launch)
      : ItemActor(cfg, std::move(spec), std::move(launch.batch), launch.slot, launch.launch,
                  launch.index, launch.attempt, 0, std::move(launch.item)) {
    host_ = std::move(host);
    remote_limits_ = std::move(launch.limits);
    defer_failures_ = true;
  }

  const char* name() const override { return "actorflow.item"; }

  void on_exit() override {
    release_exec();
    item_ = Value{};
    if (host_)
      caf::anon_send(host_, rgone_atom::value, parent_.address(), launch_);
    if (done_)
      return;
    // Killed before it had an outcome: its batch stopped (it ignores this), or it crashed.
    Error died{Errc::peer_lost, where("actor") + " died (" + to_string(fail_state()) + ")"};
    auto retry = policy_ && policy_->should_retry(died, attempt_);
    report(std::move(died), retry);
  }

  caf::behavior make_behavior() override {
    if (make_node())
      start_exec(item_, index_, attempt_);
    if (done_)
      return {}; // finished without awaiting anything: no behavior, the actor terminates
    return {[this](wake_atom, std::uint64_t token) { wake(token); }};
  }

private:
  std::string where(const char* step) const override {
    return "node '" + spec_->path + "' item " + std::to_string(index_) + " " + step;
  }

  void exec_succeeded(Value result) override { finish(std::move(result), false); }
  void exec_failed(const Error& error, bool retry) override { finish(error, retry); }

  void finish(std::variant<Value, Error> result, bool retry) {
    release_exec();
    item_ = Value{}; // freed on this thread, like exec's frame
    report(std::move(result), retry);
    done_ = true;
    quit();
  }

  // Sends the outcome to the batch: as a message (local), or as msgpack from a node, with
  // the usage of the launch's model calls (the batch's run counts them).
  void report(std::variant<Value, Error> result, bool retry) {
    ItemOutcome outcome;
    outcome.index = index_;
    outcome.result = std::move(result);
    outcome.attempts = attempt_;
    outcome.tokens = static_cast<std::int64_t>(tokens_);
    if (host_)
      caf::anon_send(parent_, rdone_atom::value, slot_, launch_,
                     wire_bytes(detail::encode_outcome(outcome)),
                     encode_calls(remote_limits_->hooks->meter->snapshot(),
                                  remote_limits_->calls->take()));
    else
      // As anon_send, but with this worker as the context: a batch actor woken by the message
      // is scheduled on this worker (anon_send has no context and schedules it on the shared
      // queue, so it would move between cores, with everything it touches).
      parent_->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                                 item_done_atom::value, slot_, launch_, retry,
                                                 std::move(outcome)),
                       context());
  }

  ItemSpecPtr item_spec_;
  caf::actor parent_; // the batch actor (on another node for a remote launch)
  Value item_;
  std::size_t index_;
  std::uint32_t slot_; // the parent's in-flight slot, sent back with the outcome
  std::uint32_t launch_; // which launch of its batch this is (slots are reused)
  bool done_ = false;
  caf::actor host_; // a remote launch's node host; invalid for a local item
};

// Spawns an item actor from `parent`, as `parent->spawn<ItemActor>(args...)` does, without
// CAF 0.17's spawn resetting the thread's logger: with the logger set, the launch and later
// every resume of an actor on that thread look its id up in the logger's map under a lock
// all workers share, although Debian's CAF logs nothing (see detach_caf_logger in
// actors/scheduler.cpp). A batch spawns an actor per item, and this was a tenth of its cost.
template <class... Args>
caf::actor spawn_item_actor(caf::local_actor* parent, Args&&... args) {
  auto& system = parent->system();
  caf::actor_config config{parent->context(), parent};
  if (config.host == nullptr) // as spawn does: outside a worker, CAF's stand-in unit
    config.host = system.dummy_execution_unit();
  auto actor = caf::make_actor<ItemActor, caf::actor>(system.next_actor_id(), system.node(),
                                                      &system, config,
                                                      std::forward<Args>(args)...);
  static_cast<ItemActor*>(caf::actor_cast<caf::abstract_actor*>(actor))
      ->launch(config.host, false, false);
  return actor;
}

// -- the node actor: single node or batch -------------------------------------------------------

// One place in a batch's window: an item from its first attempt until its final outcome.
struct Slot {
  // The running attempt's item actor, or for a launch on a cluster node that node's host;
  // invalid while waiting for a retry, or when free.
  caf::actor actor;
  std::size_t index = 0;
  std::uint32_t attempt = 0; // number of the latest attempt; 0 when the slot is free
  // Which launch of the batch the running attempt is: slots are reused by later items, so a
  // timer of an attempt names its launch, not its slot and attempt number.
  std::uint32_t launch = 0;
  std::optional<Value> input; // kept for retries when the policy allows any
  Millis last_delay{0};
  caf::actor_clock::time_point first_start{};
  std::int64_t tokens = 0; // used by the item's attempts so far
  std::string key;         // durable runs: the item's checkpoint key ("" otherwise)
  // In a cluster: where the latest launch went (Cluster::Place::node, 0 here; running while
  // `actor` is set) and on which connection of that node.
  std::uint32_t node = 0;
  std::uint64_t node_generation = 0;
  // When the run is traced: the item's span, its running attempt's, its backoff's.
  OpenSpan item_span, attempt_span, backoff_span;
};

// Shared with the exit hook, which runs after the actor's state is destroyed: a batch actor
// that dies (cancel) takes its items with it.
struct InFlight {
  std::vector<Slot> slots;
  std::vector<std::uint32_t> free; // free slots
  std::size_t count = 0;           // occupied slots
};

struct FanOut {
  explicit FanOut(ParallelBatchNode& batch_node)
      : node(&batch_node), options(batch_node.batch_options()), tally(options.policy) {}

  ParallelBatchNode* node; // the batch's own instance (owned by the actor state)
  BatchOptions options;
  ItemSource source;
  ItemSpecPtr item_spec;
  bool keep_inputs = false; // retries are possible: slots keep their item
  detail::BatchTally tally;
  std::optional<Error> first_error; // the item error that fails a fail_fast batch
  std::shared_ptr<InFlight> in_flight = std::make_shared<InFlight>();
  std::vector<ItemOutcome> results; // ordered gather; stays empty when as_completed
  CircuitBreaker breaker;
  std::size_t started = 0;
  std::size_t cancelled = 0;
  std::uint64_t retries = 0;
  std::uint32_t launches = 0; // item attempts started, numbering them for their timers
  std::size_t progress_stride = 1;
  bool exhausted = false;
  bool stopping = false;      // no more items start; late outcomes are ignored
  bool stopped_early = false; // the reducer had enough before the items ran out
  caf::actor_clock::time_point t0;
  SpanSink* spans = nullptr;  // the run's, when it is traced
  detail::RunCheckpoint* checkpoint = nullptr; // the run's, when it is durable
  std::string version;                          // the node's, for item keys
  // In a cluster, for a registered node: places launches; the node type's name there.
  Cluster* cluster = nullptr;
  std::string remote_type;
  // Node hosts monitored: the node, and its connections monitored, oldest first. A node that
  // reconnects has an address equal to the old one's, so each down message is taken to be
  // of the oldest connection still watched (they die in that order).
  std::unordered_map<caf::actor_addr, std::pair<std::uint32_t, std::deque<std::uint64_t>>> watched;
  std::uint64_t requeued = 0;
  std::vector<NodeAddress> addresses; // the nodes' "host:port" by Place::node - 1, as learnt

  // A node's address, asked of the cluster once per node (it never changes).
  NodeAddress address_of(std::uint32_t place) {
    if (addresses.size() < place)
      addresses.resize(place);
    auto& address = addresses[place - 1];
    if (address.empty())
      address = NodeAddress(cluster->address(place));
    return address;
  }
};

struct NodeActorState : ExecSite {
  using Self = caf::stateful_actor<NodeActorState>;
  explicit NodeActorState(Self* s) : ExecSite(s, nullptr) {}

  static inline const char* name = "actorflow.node";

  NodeActorState(const NodeActorState&) = delete;
  NodeActorState& operator=(const NodeActorState&) = delete;
  // A node killed before it replied (its run cancelled, a deadline) still ends its spans, so
  // that the spans of its children have a parent.
  ~NodeActorState() {
    if (!node_span)
      return;
    Error stopped{Errc::cancelled, where("run") + ": stopped before it finished"};
    if (fan && fan->spans && !fan->stopping)
      for (auto& slot : fan->in_flight->slots)
        if (slot.attempt != 0)
          end_slot_spans(slot, stopped);
    end_attempt_span(stopped);
    end_span(backoff_span, SpanEvent::Kind::backoff, std::nullopt, attempt_ + 1, node_span.id,
             stopped);
    end_span(node_span, SpanEvent::Kind::node, std::nullopt, 0, spec_->scope.span, stopped);
  }

  void set_spec(NodeSpecPtr spec) { spec_ = std::move(spec); }

  [[nodiscard]] caf::actor_clock::time_point now() const { return self_->clock().now(); }

  // -- single and batch: the flow's request -----------------------------------------------------

  caf::response_promise start(State initial) {
    promise = self_->make_response_promise();
    state = std::move(initial);
    if (auto* sink = spec_->scope.spans())
      node_span = OpenSpan{sink->new_id(), sink->now()};
    if (!make_node())
      return promise;
    policy_ = resolve_policy();
    auto prepped = detail::guarded([&] { return where("prep"); }, [&] { return node_->prep(state); });
    if (!prepped) {
      reply(prepped.error());
      return promise;
    }
    prep_result = std::move(*prepped);
    if (auto* batch = dynamic_cast<ParallelBatchNode*>(node_.get()))
      start_batch(*batch);
    else
      start_attempt(1);
    return promise;
  }

  std::string where(const char* step) const override {
    return "node '" + spec_->path + "' " + step;
  }

  // -- single: exec attempts in place, on the same node instance (as PocketFlow retries) -------

  void start_attempt(std::uint32_t attempt) {
    if (auto* sink = spec_->scope.spans()) {
      attempt_span_ = OpenSpan{sink->new_id(), sink->now()};
      span_parent_ = attempt_span_.id;
    }
    if (policy_ && policy_->attempt_timeout.count() > 0)
      self_->delayed_send(self_, policy_->attempt_timeout, timeout_atom::value, std::uint32_t{0},
                          attempt);
    start_exec(prep_result, std::nullopt, attempt);
  }

  void exec_succeeded(Value result) override {
    auto action = detail::guarded([&] { return where("post"); },
                                  [&] { return node_->post(state, prep_result, result); });
    if (!action)
      return reply(action.error());
    RunResult done{std::move(state), std::move(*action), {spec_->name}, {}};
    done.retries = attempt_ > 0 ? attempt_ - 1 : 0;
    reply(std::move(done));
  }

  void exec_failed(const Error& error, bool retry) override {
    // As for batch items: every failed attempt reports `failed`, then a retry or the end.
    if (attempt_ > 0)
      report_attempt(AttemptEvent::Kind::failed, error);
    if (!retry) {
      if (attempt_ > 0)
        report_attempt(AttemptEvent::Kind::gave_up, error);
      return reply(error);
    }
    auto delay = retry_delay(*policy_, error, attempt_, last_delay, jitter_sample());
    last_delay = delay;
    report_attempt(AttemptEvent::Kind::retry_scheduled, error, delay);
    if (auto* sink = spec_->scope.spans())
      backoff_span = OpenSpan{sink->new_id(), sink->now()};
    self_->delayed_send(self_, delay, retry_atom::value, std::uint32_t{0}, attempt_);
  }

  void on_retry(std::uint32_t attempt) {
    if (attempt == attempt_ && !exec_running_) {
      end_span(backoff_span, SpanEvent::Kind::backoff, std::nullopt, attempt + 1, node_span.id);
      start_attempt(attempt + 1);
    }
  }

  void on_attempt_timeout(std::uint32_t attempt) {
    if (attempt != attempt_ || !exec_running_)
      return; // that attempt has ended already
    abandon_exec();
    Error error{Errc::timeout, where("exec") + ": attempt " + std::to_string(attempt) +
                                   " took longer than attempt_timeout (" +
                                   std::to_string(policy_->attempt_timeout.count()) + " ms)"};
    end_attempt_span(error);
    report_attempt(AttemptEvent::Kind::timed_out, error);
    exec_failed(error, policy_->should_retry(error, attempt)); // no fallback after a timeout
  }

  void reply(Result<RunResult> result) {
    end_span(node_span, SpanEvent::Kind::node, std::nullopt, 0, spec_->scope.span,
             result.ok() ? std::nullopt : std::optional<Error>(result.error()));
    promise.deliver(StepReply::of(std::move(result)));
    self_->quit();
  }

  // -- batch: the fan-out, and the supervisor of its item actors --------------------------------

  void start_batch(ParallelBatchNode& batch) {
    fan.emplace(batch);
    auto window = fan->options.max_concurrency;
    if (window == 0 || window > std::numeric_limits<std::uint32_t>::max())
      return reply(Error{Errc::bad_input, where("batch") + ": max_concurrency is " +
                                              std::to_string(window) +
                                              " (expected 1 to 4294967295)"});
    std::optional<RetryPolicy> policy;
    if (policy_)
      policy = *policy_;
    fan->keep_inputs = policy && policy->max_attempts > 1;
    if (!spec_->registered_type.empty() && spec_->scope.env->cluster) {
      fan->cluster = spec_->scope.env->cluster.get();
      fan->remote_type = spec_->registered_type;
    }
    if (policy)
      fan->breaker = CircuitBreaker(policy->circuit);
    fan->item_spec = std::make_shared<const ItemSpec>(ItemSpec{spec_, std::move(policy)});
    auto source =
        detail::guarded([&] { return where("items"); }, [&] { return batch.items(state, prep_result); });
    if (!source)
      return reply(source.error());
    fan->source = std::move(*source);
    if (!fan->source.next)
      return reply(Error{Errc::bad_input, where("items") + ": the item source is empty"});
    if (fan->source.size)
      fan->tally.set_total(*fan->source.size);
    // Progress about 100 times per batch, or every window's worth when the size is unknown.
    fan->progress_stride =
        std::max<std::size_t>(1, fan->source.size ? *fan->source.size / 100 : window);
    fan->t0 = now();
    fan->spans = spec_->scope.spans();
    if (const auto& checkpoint = spec_->scope.hooks->checkpoint) {
      fan->checkpoint = checkpoint.get();
      auto version = detail::guarded([&] { return where("version"); }, [&] { return batch.checkpoint_version(); });
      if (!version)
        return reply(version.error());
      fan->version = std::move(*version);
    }
    // The window's slots, reserved up front (capped: a huge window over a short source should
    // not reserve memory it never uses; slots beyond are added as needed).
    auto reserve = std::min<std::size_t>(window, fan->source.size.value_or(window));
    fan->in_flight->slots.reserve(std::min<std::size_t>(reserve, 1 << 16));
    // A batch actor that dies (its run was cancelled) takes its items with it.
    self_->attach_functor([children = fan->in_flight, cluster = fan->cluster] {
      for (auto& slot : children->slots) {
        if (!slot.actor)
          continue;
        if (slot.node != 0) {
          // Its node stops it: the host monitors this batch (an anonymous rcancel would name
          // no batch).
          cluster->release(slot.node, slot.node_generation, false);
        } else {
          caf::anon_send_exit(slot.actor, caf::exit_reason::user_shutdown);
          if (cluster)
            cluster->release(0, 0, false);
        }
      }
      children->slots.clear();
    });
    pump();
  }

  // Fills the window: pulls items and starts them while there is room.
  void pump() {
    auto& f = *fan;
    auto& window = *f.in_flight;
    pumping = true;
    struct Done {
      bool& flag;
      ~Done() { flag = false; }
    } done{pumping};
    while (!f.stopping && !f.exhausted && window.count < f.options.max_concurrency) {
      auto item = detail::guarded([&] { return where("items"); }, [&] { return f.source.next(); });
      if (!item)
        return fail_batch(item.error());
      if (!*item) {
        f.exhausted = true;
        f.tally.set_total(f.started);
        break;
      }
      auto index = f.started++;
      std::uint32_t id;
      if (!window.free.empty()) {
        id = window.free.back();
        window.free.pop_back();
      } else {
        id = static_cast<std::uint32_t>(window.slots.size());
        window.slots.emplace_back();
      }
      auto& slot = window.slots[id];
      slot.index = index;
      slot.attempt = 0;
      slot.last_delay = Millis{0};
      ++window.count;
      if (!f.options.as_completed)
        f.results.emplace_back().index = index; // filled when the outcome arrives
      if (f.checkpoint) {
        slot.key = checkpoint_item_key(spec_->path, f.version, **item);
        if (auto found = f.checkpoint->committed.find(slot.key);
            found != f.checkpoint->committed.end()) {
          restore(id, found->second);
          if (f.stopping)
            return;
          continue;
        }
      }
      if (f.keep_inputs) {
        slot.input = std::move(**item);
        launch(id, *slot.input);
      } else {
        launch(id, std::move(**item));
      }
      if (f.stopping)
        return; // the launch ended the batch (an open circuit under fail_fast)
    }
    if (f.exhausted && window.count == 0 && !f.stopping)
      finish_batch(f.tally.at_end());
  }

  // Starts the next attempt of the item in slot `id`, unless the circuit is open. `requeue`:
  // the same attempt again, its node having died.
  void launch(std::uint32_t id, Value input, bool requeue = false) {
    auto& f = *fan;
    auto& slot = f.in_flight->slots[id];
    if (!requeue) {
      if (slot.attempt == 0) {
        slot.first_start = now();
        if (f.spans)
          slot.item_span = OpenSpan{f.spans->new_id(), slot.first_start};
      }
      if (!f.breaker.allow(now())) {
        Error error{Errc::circuit_open,
                    where("batch") + ": circuit open after too many failures; item " +
                        std::to_string(slot.index) + " fails fast"};
        report_item(AttemptEvent::Kind::circuit_rejected, slot, error);
        return settle(id, std::move(error));
      }
      ++slot.attempt;
    }
    slot.launch = ++f.launches;
    if (f.spans)
      slot.attempt_span = OpenSpan{f.spans->new_id(), f.spans->now()};
    Cluster::Place place;
    if (f.cluster)
      place = f.cluster->place();
    slot.node = place.node;
    slot.node_generation = place.generation;
    if (place.node != 0) {
      launch_remote(id, place, input);
      if (!slot.input) // a launch lost with its node starts again elsewhere
        slot.input = std::move(input);
    } else {
      slot.actor = spawn_item_actor(self_, f.item_spec, caf::actor{self_}, id, slot.launch,
                                           slot.index, slot.attempt, slot.attempt_span.id,
                                           std::move(input));
    }
    const auto& policy = f.item_spec->policy;
    if (policy && policy->attempt_timeout.count() > 0)
      self_->delayed_send(self_, policy->attempt_timeout, timeout_atom::value, id, slot.launch);
  }

  // Sends a launch to the node at `place`, whose death (a down message) requeues it.
  void launch_remote(std::uint32_t id, const Cluster::Place& place, const Value& input) {
    auto& f = *fan;
    auto& slot = f.in_flight->slots[id];
    auto& [node, connections] = f.watched[place.host.address()];
    if (connections.empty() || connections.back() != place.generation) {
      node = place.node;
      connections.push_back(place.generation);
      self_->monitor(place.host); // a connection of the node not seen before
    }
    const auto& hooks = *spec_->scope.hooks;
    slot.actor = place.host;
    self_->send(place.host, rexec_atom::value, cluster_protocol_version, f.remote_type,
                to_wire(input), id, slot.launch, static_cast<std::uint64_t>(slot.index),
                slot.attempt, f.cluster->gateway(), hooks.run_id, hooks.options.weight);
  }

  // The running launch in `slot` has ended (outcome, timeout, cancel): its place has room.
  // `slot.node` stays: it says where the item's latest launch ran.
  void end_launch(Slot& slot, bool done) {
    slot.actor = caf::actor{};
    if (fan->cluster)
      fan->cluster->release(slot.node, slot.node_generation, done);
  }

  // The slot of launch `launch` in slot `id` while it runs (here, or on a node: `remote`);
  // null for an outcome of a launch given up on (timed out, requeued, cancelled) or a stray.
  Slot* running_launch(std::uint32_t id, std::uint32_t launch, bool remote) {
    auto& f = *fan;
    if (f.stopping || id >= f.in_flight->slots.size())
      return nullptr;
    auto& slot = f.in_flight->slots[id];
    if (!slot.actor || slot.launch != launch || (slot.node != 0) != remote)
      return nullptr;
    return &slot;
  }

  // The running attempt of the item in slot `id` ended with `result`. `retry`: the policy
  // retries this failure.
  void attempt_ended(std::uint32_t id, std::variant<Value, Error> result, std::int64_t tokens,
                     bool retry) {
    auto& f = *fan;
    auto& slot = f.in_flight->slots[id];
    end_launch(slot, true);
    slot.tokens += tokens;
    const Error* error = std::get_if<Error>(&result);
    if (f.spans)
      end_item_span(slot, slot.attempt_span, SpanEvent::Kind::attempt, slot.item_span.id,
                    error ? std::optional<Error>(*error) : std::nullopt);
    if (!error) {
      f.breaker.record_success();
      return settle(id, std::move(result));
    }
    on_attempt_failed(id, *error, retry);
  }

  void on_item_done(std::uint32_t id, std::uint32_t launch, bool retry, ItemOutcome outcome) {
    if (running_launch(id, launch, false))
      attempt_ended(id, std::move(outcome.result), outcome.tokens, retry);
  }

  // A node's outcome of launch `launch` in slot `id`, and the usage of its model calls.
  void on_remote_done(std::uint32_t id, std::uint32_t launch, const std::vector<char>& bytes,
                      const std::vector<char>& usage) {
    auto* slot = running_launch(id, launch, true);
    if (!slot)
      return;
    auto& f = *fan;
    // The run counts the launch's model calls, and its host hears of each, as of local ones.
    auto [used, calls] = decode_calls(usage);
    const auto& hooks = *spec_->scope.hooks;
    hooks.meter->add(used);
    for (auto& call : calls) {
      call.node = spec_->path;
      call.item = slot->index;
      hooks.report_model_call(call);
    }
    auto decoded = detail::decode_outcome(wire_view(bytes));
    const auto& policy = f.item_spec->policy;
    if (!decoded) {
      Error garbled{Errc::bad_response, "node '" + spec_->path + "' item " +
                                            std::to_string(slot->index) + ": cluster node " +
                                            f.address_of(slot->node).str() +
                                            " sent an outcome that does not decode (" +
                                            decoded.error().message + ")"};
      spec_->scope.env->log(garbled.message);
      const bool retry = policy && policy->should_retry(garbled, slot->attempt);
      return attempt_ended(id, std::move(garbled), 0, retry);
    }
    if (decoded->ok())
      return attempt_ended(id, std::move(decoded->result), decoded->tokens, false);
    // The node reports exec's raw error: the retry policy, then the fallback, apply here.
    const Error error = decoded->error();
    if (policy && policy->should_retry(error, slot->attempt))
      return attempt_ended(id, error, decoded->tokens, true);
    // On a fresh instance, as a local item's fallback runs.
    auto node = detail::guarded([&] { return where("factory"); }, [&] { return new_instance(); });
    auto fallback = node ? fallback_of(**node, *slot->input, error) : Result<Value>(node.error());
    if (!fallback)
      return attempt_ended(id, fallback.error(), decoded->tokens, false);
    report_item(AttemptEvent::Kind::fallback_used, *slot, error);
    attempt_ended(id, std::move(*fallback), decoded->tokens, false);
  }

  // A node host this batch sent launches to went down: its launches start again elsewhere.
  void on_node_down(const caf::actor_addr& host) {
    auto& f = *fan;
    auto watched = f.watched.find(host);
    if (watched == f.watched.end())
      return;
    const auto node = watched->second.first;
    const auto generation = watched->second.second.front();
    watched->second.second.pop_front();
    if (watched->second.second.empty())
      f.watched.erase(watched);
    if (f.stopping)
      return;
    std::vector<std::uint32_t> lost;
    for (std::uint32_t id = 0; id < f.in_flight->slots.size(); ++id) {
      auto& slot = f.in_flight->slots[id];
      if (slot.actor && slot.node == node && slot.node_generation == generation)
        lost.push_back(id);
    }
    if (lost.empty())
      return;
    f.cluster->lost(node, generation, lost.size());
    f.requeued += lost.size();
    spec_->scope.env->log("[" + spec_->path + "] cluster node " + f.address_of(node).str() +
                          " is gone: " + std::to_string(lost.size()) +
                          " items in flight there start again elsewhere");
    for (auto id : lost) {
      auto& slot = f.in_flight->slots[id];
      slot.actor = caf::actor{};
      if (f.spans)
        end_item_span(slot, slot.attempt_span, SpanEvent::Kind::attempt, slot.item_span.id,
                      Error{Errc::peer_lost, "its cluster node went down"});
      launch(id, *slot.input, true);
      if (f.stopping)
        return;
    }
  }

  void on_item_timeout(std::uint32_t id, std::uint32_t launch) {
    auto& f = *fan;
    if (f.stopping || id >= f.in_flight->slots.size())
      return;
    auto& slot = f.in_flight->slots[id];
    if (!slot.actor || slot.launch != launch)
      return; // that attempt has ended already (the slot may hold another item by now)
    auto attempt = slot.attempt;
    stop_launch(slot, caf::exit_reason::kill); // its late outcome will be stale
    Error error{Errc::timeout, "node '" + spec_->path + "' item " + std::to_string(slot.index) +
                                   ": attempt " + std::to_string(attempt) +
                                   " took longer than attempt_timeout (" +
                                   std::to_string(f.item_spec->policy->attempt_timeout.count()) +
                                   " ms)"};
    if (f.spans)
      end_item_span(slot, slot.attempt_span, SpanEvent::Kind::attempt, slot.item_span.id, error);
    report_item(AttemptEvent::Kind::timed_out, slot, error);
    on_attempt_failed(id, error, f.item_spec->policy->should_retry(error, attempt));
  }

  // An attempt failed: retry after a backoff, or settle the item with the error. `retry`: the
  // policy retries this error at this attempt (decided where the failure was seen).
  void on_attempt_failed(std::uint32_t id, const Error& error, bool retry) {
    auto& f = *fan;
    auto& slot = f.in_flight->slots[id];
    report_item(AttemptEvent::Kind::failed, slot, error);
    auto opened_before = f.breaker.times_opened();
    f.breaker.record_failure(now());
    if (f.breaker.times_opened() != opened_before) {
      report_item(AttemptEvent::Kind::circuit_opened, slot, error);
    }
    if (!retry) {
      report_item(AttemptEvent::Kind::gave_up, slot, error);
      return settle(id, error);
    }
    if (f.breaker.state() == CircuitBreaker::State::open) {
      Error open{Errc::circuit_open, where("batch") + ": circuit open; item " +
                                         std::to_string(slot.index) + " not retried (last error: " +
                                         error.to_string() + ")"};
      report_item(AttemptEvent::Kind::circuit_rejected, slot, open);
      return settle(id, std::move(open));
    }
    auto delay =
        retry_delay(*f.item_spec->policy, error, slot.attempt, slot.last_delay, jitter_sample());
    slot.last_delay = delay;
    ++f.retries;
    report_item(AttemptEvent::Kind::retry_scheduled, slot, error, delay);
    if (f.spans)
      slot.backoff_span = OpenSpan{f.spans->new_id(), f.spans->now()};
    self_->delayed_send(self_, delay, retry_atom::value, id, slot.attempt);
  }

  void on_item_retry(std::uint32_t id, std::uint32_t attempt) {
    auto& f = *fan;
    if (f.stopping || id >= f.in_flight->slots.size())
      return;
    auto& slot = f.in_flight->slots[id];
    if (slot.actor || slot.attempt != attempt)
      return; // not waiting for this retry
    if (f.spans) // the backoff precedes the attempt it is for
      end_item_span(slot, slot.backoff_span, SpanEvent::Kind::backoff, slot.item_span.id,
                    std::nullopt, attempt + 1);
    launch(id, *slot.input);
  }

  // The item in slot `id` has its final outcome: record it, free the slot, go on.
  void settle(std::uint32_t id, std::variant<Value, Error> result) {
    auto& f = *fan;
    auto& window = *f.in_flight;
    auto& slot = window.slots[id];
    ItemOutcome outcome;
    outcome.index = slot.index;
    outcome.result = std::move(result);
    outcome.attempts = slot.attempt;
    outcome.tokens = std::exchange(slot.tokens, 0);
    if (slot.node != 0)
      outcome.ran_on = f.address_of(slot.node);
    outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(now() - slot.first_start);
    if (f.spans)
      end_item_span(slot, slot.item_span, SpanEvent::Kind::item, node_span.id,
                    outcome.ok() ? std::nullopt : std::optional<Error>(outcome.error()));
    // An item turned away by an open circuit never ran: a resume (after the outage) runs it.
    const bool ran = outcome.ok() || outcome.error().code != Errc::circuit_open;
    if (f.checkpoint && !slot.key.empty() && ran)
      f.checkpoint->items->add(ItemCheckpoint{std::move(slot.key), outcome});
    slot.key.clear();
    settle_outcome(id, std::move(outcome));
  }

  // An item whose outcome a resumed run finds committed: it settles without running.
  void restore(std::uint32_t id, const ItemOutcome& committed) {
    auto& slot = fan->in_flight->slots[id];
    slot.key.clear(); // committed already
    ItemOutcome outcome = committed;
    outcome.index = slot.index;
    settle_outcome(id, std::move(outcome));
  }

  // Records the final outcome of the item in slot `id`, frees the slot, goes on.
  void settle_outcome(std::uint32_t id, ItemOutcome outcome) {
    auto& f = *fan;
    auto& window = *f.in_flight;
    auto& slot = window.slots[id];
    slot.actor = caf::actor{};
    slot.attempt = 0;
    slot.node = 0;
    slot.input.reset();
    window.free.push_back(id);
    --window.count;
    auto verdict = f.tally.record(outcome.ok());
    if (!outcome.ok() && f.options.policy.kind() == FailurePolicy::Kind::fail_fast)
      f.first_error = outcome.error();
    if (f.options.as_completed) {
      auto keep_going =
          detail::guarded([&] { return where("on_item"); }, [&] { return f.node->on_item(outcome); });
      if (!keep_going)
        return fail_batch(keep_going.error());
      if (!*keep_going && verdict == detail::BatchTally::Verdict::running)
        verdict = detail::BatchTally::Verdict::succeeded; // the reducer has what it needs
    } else {
      f.results[outcome.index] = std::move(outcome);
    }
    if (settled_count() % f.progress_stride == 0)
      report_progress(false);
    switch (verdict) {
      case detail::BatchTally::Verdict::failed:
        return fail_batch(f.first_error ? *f.first_error
                                        : Error{Errc::batch_failed, f.tally.failure_reason()});
      case detail::BatchTally::Verdict::succeeded:
        if (!f.exhausted || window.count != 0)
          return stop_early();
        break;
      case detail::BatchTally::Verdict::running:
        break;
    }
    if (!pumping) // settle() is also reached from pump() (a circuit-rejected launch)
      pump();
  }

  // Cancels the items still in flight (and those waiting for a retry); their outcomes become
  // `cancelled`.
  void cancel_in_flight() {
    auto& f = *fan;
    auto& window = *f.in_flight;
    f.stopping = true;
    for (auto& slot : window.slots) {
      if (slot.attempt == 0)
        continue;
      if (f.spans)
        end_slot_spans(slot, Error{Errc::cancelled, where("batch") + ": item " +
                                                        std::to_string(slot.index) +
                                                        " cancelled: the batch stopped"});
      if (slot.actor)
        stop_launch(slot, caf::exit_reason::user_shutdown);
      slot.attempt = 0;
      ++f.cancelled;
      if (!f.options.as_completed)
        f.results[slot.index].result =
            Error{Errc::cancelled, where("batch") + ": item " + std::to_string(slot.index) +
                                       " cancelled: the batch stopped early"};
    }
    window.count = 0;
  }

  // Stops the running launch in `slot`: kills its item actor, or asks its node to.
  void stop_launch(Slot& slot, caf::exit_reason reason) {
    if (slot.node != 0)
      self_->send(slot.actor, rcancel_atom::value, slot.launch);
    else
      self_->send_exit(slot.actor, reason);
    end_launch(slot, false);
  }

  /// Items settled so far, failed ones included.
  [[nodiscard]] std::size_t settled_count() const {
    return fan->tally.succeeded() + fan->tally.failed();
  }

  void stop_early() {
    fan->stopped_early = true;
    cancel_in_flight();
    finish_batch(detail::BatchTally::Verdict::succeeded);
  }

  void fail_batch(Error error) {
    cancel_in_flight();
    report_progress(true);
    error.message = where("batch") + ": " + error.message;
    reply(std::move(error));
  }

  void finish_batch(detail::BatchTally::Verdict verdict) {
    auto& f = *fan;
    f.stopping = true;
    report_progress(true);
    // Every outcome is committed before the reducer runs: a failed write fails the batch.
    if (f.checkpoint)
      if (auto flushed = f.checkpoint->items->flush(); !flushed)
        return reply(Error{flushed.error().code, where("batch") + ": checkpoint: " +
                                                     flushed.error().message});
    if (verdict == detail::BatchTally::Verdict::failed)
      return reply(Error{Errc::batch_failed, where("batch") + ": " + f.tally.failure_reason()});
    BatchResult result;
    result.items = std::move(f.results);
    result.summary.started = f.started;
    result.summary.succeeded = f.tally.succeeded();
    result.summary.failed = f.tally.failed() + f.cancelled;
    result.summary.cancelled = f.cancelled;
    result.summary.stopped_early = f.stopped_early;
    result.summary.wall = std::chrono::duration_cast<std::chrono::microseconds>(now() - f.t0);
    result.summary.retries = f.retries;
    result.summary.circuit_opened = f.breaker.times_opened();
    result.summary.requeued = f.requeued;
    auto action = detail::guarded([&] { return where("post_batch"); }, [&] {
      return f.node->post_batch(state, prep_result, std::move(result));
    });
    if (!action)
      return reply(action.error());
    RunResult done{std::move(state), std::move(*action), {spec_->name}, {}};
    done.retries = f.retries;
    reply(std::move(done));
  }

  void report_progress(bool finished) {
    if (!spec_->scope.hooks->options.on_progress)
      return;
    auto& f = *fan;
    BatchProgress p;
    p.node = spec_->path;
    p.done = settled_count();
    p.failed = f.tally.failed();
    p.in_flight = f.in_flight->count;
    p.total = f.tally.total();
    p.finished = finished;
    spec_->scope.hooks->options.on_progress(p);
  }

  void report_item(AttemptEvent::Kind kind, const Slot& slot, const Error& error,
                   Millis delay = Millis{0}) const {
    report_attempt(kind, error, delay, slot.index, slot.attempt);
  }

  // Ends the spans still open for the item in `slot`, which was stopped.
  void end_slot_spans(Slot& slot, const Error& stopped) const {
    end_item_span(slot, slot.attempt_span, SpanEvent::Kind::attempt, slot.item_span.id, stopped);
    end_item_span(slot, slot.backoff_span, SpanEvent::Kind::backoff, slot.item_span.id, stopped,
                  slot.attempt + 1);
    end_item_span(slot, slot.item_span, SpanEvent::Kind::item, node_span.id, stopped);
  }

  // Ends one of the spans of the item in `slot` (the run is traced). `attempt`: the attempt's
  // number, by default the latest.
  void end_item_span(const Slot& slot, OpenSpan& span, SpanEvent::Kind kind,
                     std::uint64_t parent, std::optional<Error> error = std::nullopt,
                     std::optional<std::uint32_t> attempt = std::nullopt) const {
    end_span(span, kind, slot.index, attempt.value_or(slot.attempt), parent, std::move(error));
  }



  caf::response_promise promise;
  State state;
  Value prep_result;
  OpenSpan node_span;             // this execution's, while it runs (when the run is traced)
  OpenSpan backoff_span;          // single: the backoff before the next attempt
  Millis last_delay{0};           // single: the previous backoff
  std::optional<FanOut> fan;      // batch only
  bool pumping = false;
};

using Self = NodeActorState::Self;

caf::behavior node_actor(Self* self, NodeSpecPtr spec) {
  self->state.set_spec(std::move(spec));
  // Only a batch in a cluster monitors anything: the hosts of the nodes it sends items to.
  self->set_down_handler([self](caf::down_msg& down) {
    if (self->state.fan)
      self->state.on_node_down(down.source);
  });
  return {
      [self](run_atom, State& initial) -> caf::response_promise {
        return self->state.start(std::move(initial));
      },
      [self](wake_atom, std::uint64_t token) { self->state.wake(token); },
      [self](item_done_atom, std::uint32_t slot, std::uint32_t launch, bool retry,
             ItemOutcome& outcome) {
        if (self->state.fan)
          self->state.on_item_done(slot, launch, retry, std::move(outcome));
      },
      [self](retry_atom, std::uint32_t slot, std::uint32_t attempt) {
        if (self->state.fan)
          self->state.on_item_retry(slot, attempt);
        else
          self->state.on_retry(attempt);
      },
      [self](rdone_atom, std::uint32_t slot, std::uint32_t launch, const std::vector<char>& bytes,
             const std::vector<char>& usage) {
        if (self->state.fan)
          self->state.on_remote_done(slot, launch, bytes, usage);
      },
      [self](timeout_atom, std::uint32_t slot, std::uint32_t attempt_or_launch) {
        if (self->state.fan)
          self->state.on_item_timeout(slot, attempt_or_launch);
        else
          self->state.on_attempt_timeout(attempt_or_launch);
      },
  };
}

} // namespace

TimeoutTracked* as_timeout_tracked(caf::abstract_actor* actor) noexcept {
  // An exact type check by type_info address: ItemActor has internal linkage, so its type_info
  // is unique; item actors are never further derived.
  if (&typeid(*actor) != &typeid(ItemActor))
    return nullptr;
  return static_cast<ItemActor*>(actor);
}

caf::actor spawn_child_node(caf::local_actor* parent, Scope scope, std::string name,
                            NodeFactory factory, std::optional<RetryPolicy> flow_policy,
                            std::string registered_type) {
  return parent->spawn<caf::linked>(
      node_actor, std::make_shared<const NodeSpec>(NodeSpec{scope, name, std::move(factory),
                                                            std::move(flow_policy),
                                                            scope.path + name,
                                                            std::move(registered_type)}));
}

struct RemoteNodeType {
  ItemSpecPtr spec;
};

std::shared_ptr<const RemoteNodeType> remote_node_type(Scope scope, std::string type,
                                                       NodeFactory factory) {
  auto path = "remote/" + type;
  auto node = std::make_shared<const NodeSpec>(
      NodeSpec{std::move(scope), type, std::move(factory), std::nullopt, std::move(path), type});
  return std::make_shared<const RemoteNodeType>(
      RemoteNodeType{std::make_shared<const ItemSpec>(ItemSpec{std::move(node), std::nullopt})});
}

caf::actor spawn_remote_item(caf::local_actor* host, const RemoteNodeType& type,
                             RemoteLaunch launch) {
  return spawn_item_actor(host, type.spec, caf::actor_cast<caf::actor>(host), std::move(launch));
}

} // namespace actorflow::actors
