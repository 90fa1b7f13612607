// The node actor: one per node execution. Runs prep, exec and post of a fresh node instance and
// hosts exec's coroutine: every await arranges a message to this actor, whose handler resumes
// the coroutine, so a suspended node holds no thread and its code never runs concurrently.
//
// The same actor type plays three parts:
// - single: a plain node (prep, exec, post) answering its flow actor;
// - batch:  a ParallelBatchNode: prep and items here, then one item actor per item under a
//           window of max_concurrency, outcomes gathered in input order (or folded as they
//           complete), then post_batch; this is the fan-out primitive;
// - item:   one item of a batch: a fresh instance runs exec(item) and sends its outcome to the
//           batch actor.

#include "actors/actor_slot.hpp"
#include "actors/step_actors.hpp"
#include "core/batch_tally.hpp"
#include "core/guard.hpp"

#include <actorflow/batch.hpp>
#include <actorflow/context.hpp>
#include <actorflow/flow.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <coroutine>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace actorflow::actors {

namespace {

using Clock = std::chrono::steady_clock;

enum class Part { single, batch, item };

// Children of a batch still running. Shared with the exit hook, which runs after the actor's
// state is destroyed: a batch actor that dies (cancel) takes its items with it.
using InFlight = std::unordered_map<std::size_t, caf::actor>;

struct FanOut {
  explicit FanOut(ParallelBatchNode& batch_node)
      : node(&batch_node), options(batch_node.batch_options()), tally(options.policy) {}

  ParallelBatchNode* node; // the batch's own instance (owned by the actor state)
  BatchOptions options;
  ItemSource source;
  detail::BatchTally tally;
  std::optional<Error> first_error; // the item error that fails a fail_fast batch
  std::shared_ptr<InFlight> in_flight = std::make_shared<InFlight>();
  std::vector<ItemOutcome> results; // ordered gather; stays empty when as_completed
  std::size_t started = 0;
  std::size_t finished = 0;
  std::size_t cancelled = 0;
  std::size_t progress_stride = 1;
  bool exhausted = false;
  bool stopping = false;
  Clock::time_point t0;
};

// What a node actor runs, shared (immutable) by a batch actor and all of its item actors, so
// that spawning an item copies one pointer instead of a scope, a name and a factory.
struct NodeSpec {
  Scope scope;
  std::string name;
  NodeFactory factory;
};
using NodeSpecPtr = std::shared_ptr<const NodeSpec>;

struct NodeActorState : detail::ExecHost {
  using Self = caf::stateful_actor<NodeActorState>;
  explicit NodeActorState(Self* s) : self(s) {}
  NodeActorState(const NodeActorState&) = delete;
  NodeActorState& operator=(const NodeActorState&) = delete;
  ~NodeActorState() = default;

  static inline const char* name = "actorflow.node";

  // -- ExecHost: each call ends in a message to this actor that resumes `h` --------------------

  void sleep(std::chrono::nanoseconds delay, std::coroutine_handle<> h) override {
    auto token = next_token++;
    sleepers.emplace(token, h);
    self->delayed_send(self, std::chrono::duration_cast<std::chrono::microseconds>(delay),
                       wake_atom::value, token);
  }

  void run_flow(const Flow& flow, State initial, std::coroutine_handle<> h,
                std::optional<Result<RunResult>>& out) override {
    auto child = spawn_child_flow(self, spec->scope.nested(spec->name), flow.graph());
    auto where = "sub-flow '" + flow.name() + "'";
    self->request(child, caf::infinite, run_atom::value, std::move(initial))
        .then(
            [this, h, &out](StepReply& reply) {
              out = std::move(reply).take();
              resume(h);
            },
            [this, h, &out, where](caf::error& err) {
              out = to_error(err, where);
              resume(h);
            });
  }

  void ask(const ActorRef& target, Value request, std::chrono::nanoseconds timeout,
           std::coroutine_handle<> h, std::optional<Result<Value>>& out) override {
    caf::actor dest = target.valid() ? target.slot()->get() : caf::actor{};
    if (!dest) {
      // Resume through the mailbox, never synchronously: the awaiter has not suspended yet.
      out = Error{target.valid() ? Errc::cancelled : Errc::bad_input,
                  target.valid() ? "ask: the actor's runtime has shut down"
                                 : "ask: the ActorRef refers to no actor"};
      sleep(std::chrono::nanoseconds{0}, h);
      return;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    self->request(dest, ms, ask_atom::value, std::move(request))
        .then(
            [this, h, &out](AskReply& reply) {
              if (reply.value)
                out = std::move(*reply.value);
              else
                out = std::move(reply.error);
              resume(h);
            },
            [this, h, &out](caf::error& err) {
              out = to_error(err, "ask");
              resume(h);
            });
  }

  void log(std::string_view message) override {
    if (!spec->scope.env->log)
      return;
    // Appended piece by piece: "literal" + std::string&& trips GCC 12's -Wrestrict at -O3.
    std::string line = "[";
    line.append(path()).append("] ").append(message);
    spec->scope.env->log(line);
  }

  // -- making the node and running exec ---------------------------------------------------------

  bool make_node() {
    auto made = detail::guarded(where("factory"), [&] {
      auto n = spec->factory();
      if (!n)
        throw Failure(Error{Errc::invalid_flow, "the factory returned no node"});
      return n;
    });
    if (!made) {
      exec_failed_early(made.error());
      return false;
    }
    node = std::move(*made);
    return true;
  }

  // Starts exec on `input`; its end arrives in on_exec_done (now or after awaits).
  void start_exec(Value input, std::optional<std::size_t> index) {
    exec_input = std::move(input);
    ctx.emplace(*this, spec->name, index);
    auto started = detail::guarded(where("exec"), [&] {
      task = node->exec(exec_input, *ctx);
      task.start(); // runs to the first await; an exception is kept in the task
    });
    if (!started)
      return after_exec(started.error());
    after_resume();
  }

  void resume(std::coroutine_handle<> h) {
    h.resume();
    after_resume();
  }

  void after_resume() {
    if (!task.done())
      return; // suspended on another await; its message will resume it
    auto value = detail::guarded(where("exec"), [&] { return task.take(); });
    if (value)
      return on_exec_done(std::move(*value));
    after_exec(value.error());
  }

  // exec failed: the fallback may still supply a value.
  void after_exec(const Error& error) {
    auto fallback = detail::guarded(where("exec_fallback"),
                                    [&] { return node->exec_fallback(exec_input, error); });
    if (fallback)
      return on_exec_done(std::move(*fallback));
    // The default fallback rethrows exec's error: report that error, not a wrapped copy.
    exec_failed_early(fallback.error().code == error.code ? error : fallback.error());
  }

  void on_exec_done(Value result) {
    if (part == Part::item)
      return send_outcome(std::move(result), {});
    auto action = detail::guarded(where("post"),
                                  [&] { return node->post(state, prep_result, result); });
    if (!action)
      return reply(action.error());
    reply(RunResult{std::move(state), std::move(*action), {spec->name}, {}});
  }

  void exec_failed_early(const Error& error) {
    if (part == Part::item)
      return send_outcome(std::nullopt, error);
    reply(error);
  }

  // -- single and batch: the flow's request -----------------------------------------------------

  void start(State initial) {
    state = std::move(initial);
    if (!make_node())
      return;
    auto prepped = detail::guarded(where("prep"), [&] { return node->prep(state); });
    if (!prepped)
      return reply(prepped.error());
    prep_result = std::move(*prepped);
    if (auto* batch = dynamic_cast<ParallelBatchNode*>(node.get()))
      return start_batch(*batch);
    start_exec(prep_result, std::nullopt);
  }

  void reply(Result<RunResult> result) {
    promise.deliver(StepReply::of(std::move(result)));
    self->quit();
  }

  // -- item: one element of a batch -------------------------------------------------------------

  void start_item(std::size_t index, Value item) {
    item_index = index;
    item_started = Clock::now();
    if (!make_node())
      return;
    start_exec(std::move(item), index);
  }

  void send_outcome(std::optional<Value> value, Error error) {
    ItemOutcome outcome;
    outcome.index = item_index;
    if (value)
      outcome.result = std::move(*value);
    else
      outcome.result = std::move(error);
    outcome.attempts = 1;
    outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - item_started);
    self->send(batch_parent, item_done_atom::value, std::move(outcome));
    self->quit();
  }

  // -- batch: the fan-out -----------------------------------------------------------------------

  void start_batch(ParallelBatchNode& batch) {
    part = Part::batch;
    fan.emplace(batch);
    if (fan->options.max_concurrency == 0)
      return reply(Error{Errc::bad_input, where("batch") + ": max_concurrency is 0"});
    auto source = detail::guarded(where("items"), [&] { return batch.items(state, prep_result); });
    if (!source)
      return reply(source.error());
    fan->source = std::move(*source);
    if (!fan->source.next)
      return reply(Error{Errc::bad_input, where("items") + ": the item source is empty"});
    if (fan->source.size)
      fan->tally.set_total(*fan->source.size);
    // Progress about 100 times per batch, or every window's worth when the size is unknown.
    fan->progress_stride = std::max<std::size_t>(
        1, fan->source.size ? *fan->source.size / 100 : fan->options.max_concurrency);
    fan->t0 = Clock::now();
    // A batch actor that dies (its run was cancelled) takes its items with it.
    self->attach_functor([children = fan->in_flight] {
      for (auto& [index, child] : *children)
        caf::anon_send_exit(child, caf::exit_reason::user_shutdown);
      children->clear();
    });
    pump();
  }

  // Fills the window: pulls items and spawns their actors while there is room.
  void pump() {
    auto& f = *fan;
    while (!f.stopping && !f.exhausted && f.in_flight->size() < f.options.max_concurrency) {
      auto item = detail::guarded(where("items"), [&] { return f.source.next(); });
      if (!item)
        return fail_batch(item.error());
      if (!*item) {
        f.exhausted = true;
        f.tally.set_total(f.started);
        break;
      }
      auto index = f.started++;
      auto child = self->spawn(item_actor, spec, caf::actor{self});
      self->send(child, item_atom::value, index, std::move(**item));
      f.in_flight->emplace(index, std::move(child));
      if (!f.options.as_completed)
        f.results.emplace_back().index = index; // filled when the outcome arrives
    }
    if (f.exhausted && f.in_flight->empty() && !f.stopping)
      finish_batch(f.tally.at_end());
  }

  void on_item_done(ItemOutcome outcome) {
    auto& f = *fan;
    if (f.stopping || f.in_flight->erase(outcome.index) == 0)
      return; // late: from a child cancelled when the batch stopped
    ++f.finished;
    auto verdict = f.tally.record(outcome.ok());
    if (!outcome.ok() && f.options.policy.kind() == FailurePolicy::Kind::fail_fast)
      f.first_error = outcome.error();
    if (f.options.as_completed) {
      auto keep_going = detail::guarded(where("on_item"), [&] { return f.node->on_item(outcome); });
      if (!keep_going)
        return fail_batch(keep_going.error());
      if (!*keep_going && verdict == detail::BatchTally::Verdict::running)
        verdict = detail::BatchTally::Verdict::succeeded; // the reducer has what it needs
    } else {
      f.results[outcome.index] = std::move(outcome);
    }
    if (f.finished % f.progress_stride == 0)
      report_progress(false);
    switch (verdict) {
      case detail::BatchTally::Verdict::failed:
        return fail_batch(f.first_error ? *f.first_error
                                      : Error{Errc::batch_failed, f.tally.failure_reason()});
      case detail::BatchTally::Verdict::succeeded:
        if (!f.exhausted || !f.in_flight->empty())
          return stop_early();
        break;
      case detail::BatchTally::Verdict::running:
        break;
    }
    pump();
  }

  // Cancels the items still in flight; their outcomes become `cancelled`.
  void cancel_in_flight() {
    auto& f = *fan;
    f.stopping = true;
    for (auto& [index, child] : *f.in_flight) {
      self->send_exit(child, caf::exit_reason::user_shutdown);
      ++f.cancelled;
      if (!f.options.as_completed)
        f.results[index].result = Error{Errc::cancelled, where("batch") + ": item " +
                                                            std::to_string(index) +
                                                            " cancelled: the batch stopped early"};
    }
    f.in_flight->clear();
  }

  void stop_early() {
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
    report_progress(true);
    if (verdict == detail::BatchTally::Verdict::failed)
      return reply(Error{Errc::batch_failed, where("batch") + ": " + f.tally.failure_reason()});
    BatchResult result;
    result.items = std::move(f.results);
    result.summary.started = f.started;
    result.summary.succeeded = f.tally.succeeded();
    result.summary.failed = f.tally.failed() + f.cancelled;
    result.summary.cancelled = f.cancelled;
    result.summary.stopped_early = f.stopping;
    result.summary.wall = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - f.t0);
    auto action = detail::guarded(where("post_batch"), [&] {
      return f.node->post_batch(state, prep_result, std::move(result));
    });
    if (!action)
      return reply(action.error());
    reply(RunResult{std::move(state), std::move(*action), {spec->name}, {}});
  }

  void report_progress(bool finished) {
    if (!spec->scope.hooks || !spec->scope.hooks->progress)
      return;
    auto& f = *fan;
    BatchProgress p;
    p.node = path();
    p.done = f.finished;
    p.failed = f.tally.failed();
    p.in_flight = f.in_flight->size();
    p.total = f.tally.total();
    p.finished = finished;
    spec->scope.hooks->progress(p);
  }

  // -- helpers ----------------------------------------------------------------------------------

  std::string path() const { return spec->scope.path + spec->name; }
  std::string where(const char* step) const {
    if (part == Part::item)
      return "node '" + path() + "' item " + std::to_string(item_index) + " " + step;
    return "node '" + path() + "' " + step;
  }

  static caf::behavior item_actor(Self* self, NodeSpecPtr spec, caf::actor parent);

  // -- state (destroyed in reverse order: the coroutine frame goes before what it refers to) --

  Self* self;
  Part part = Part::single;
  NodeSpecPtr spec;
  caf::response_promise promise; // single and batch
  caf::actor batch_parent;       // item
  std::size_t item_index = 0;    // item
  Clock::time_point item_started;
  State state;
  std::unique_ptr<Node> node;
  Value prep_result;
  Value exec_input;
  std::optional<FanOut> fan;        // batch
  std::optional<Context> ctx;
  std::uint64_t next_token = 0;
  std::unordered_map<std::uint64_t, std::coroutine_handle<>> sleepers;
  Task<Value> task; // last: its frame refers to node, ctx and exec_input
};

using Self = NodeActorState::Self;

void on_wake(Self* self, std::uint64_t token) {
  auto& s = self->state;
  auto it = s.sleepers.find(token);
  if (it == s.sleepers.end())
    return;
  auto h = it->second;
  s.sleepers.erase(it);
  s.resume(h);
}

caf::behavior node_actor(Self* self, NodeSpecPtr spec) {
  self->state.spec = std::move(spec);
  return {
      [self](run_atom, State& initial) -> caf::response_promise {
        auto& s = self->state;
        s.promise = self->make_response_promise();
        s.start(std::move(initial));
        return s.promise;
      },
      [self](wake_atom, std::uint64_t token) { on_wake(self, token); },
      [self](item_done_atom, ItemOutcome& outcome) {
        if (self->state.fan)
          self->state.on_item_done(std::move(outcome));
      },
  };
}

caf::behavior NodeActorState::item_actor(Self* self, NodeSpecPtr spec, caf::actor parent) {
  self->state.spec = std::move(spec);
  self->state.part = Part::item;
  self->state.batch_parent = std::move(parent);
  return {
      [self](item_atom, std::size_t index, Value& item) {
        self->state.start_item(index, std::move(item));
      },
      [self](wake_atom, std::uint64_t token) { on_wake(self, token); },
  };
}

} // namespace

caf::actor spawn_child_node(caf::local_actor* parent, Scope scope, std::string name,
                            NodeFactory factory) {
  return parent->spawn<caf::linked>(
      node_actor, std::make_shared<const NodeSpec>(NodeSpec{std::move(scope), std::move(name),
                                                            std::move(factory)}));
}

} // namespace actorflow::actors
