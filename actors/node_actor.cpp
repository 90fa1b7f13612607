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
#include "actors/scheduler.hpp"
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
#include <typeinfo>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_map>
#include <variant>
#include <vector>

namespace actorflow::actors {

namespace {

using Clock = std::chrono::steady_clock;

// What a node actor runs, shared (immutable) by a batch actor and all of its item actors, so
// that spawning an item copies one pointer instead of a scope, a name and a factory.
struct NodeSpec {
  Scope scope;
  std::string name;
  NodeFactory factory;

  [[nodiscard]] std::string path() const { return scope.path + name; }
};
using NodeSpecPtr = std::shared_ptr<const NodeSpec>;

// Hosts one exec coroutine inside an actor: the ExecHost side of Context. Shared by the node
// actor and the item actor; each says what happens when exec ends.
class ExecSite : public detail::ExecHost {
public:
  ExecSite(caf::event_based_actor* self, NodeSpecPtr spec) : self_(self), spec_(std::move(spec)) {}
  ExecSite(const ExecSite&) = delete;
  ExecSite& operator=(const ExecSite&) = delete;

  // -- ExecHost: each call ends in a message to this actor that resumes `h` --------------------

  void sleep(std::chrono::nanoseconds delay, std::coroutine_handle<> h) override {
    auto token = next_token_++;
    sleepers_.emplace(token, h);
    self_->delayed_send(self_, std::chrono::duration_cast<std::chrono::microseconds>(delay),
                        wake_atom::value, token);
  }

  void run_flow(const Flow& flow, State initial, std::coroutine_handle<> h,
                std::optional<Result<RunResult>>& out) override {
    auto child = spawn_child_flow(self_, spec_->scope.nested(spec_->name), flow.graph());
    auto where = "sub-flow '" + flow.name() + "'";
    self_->request(child, caf::infinite, run_atom::value, std::move(initial))
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
    self_->request(dest, ms, ask_atom::value, std::move(request))
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
    if (!spec_->scope.env->log)
      return;
    // Appended piece by piece: "literal" + std::string&& trips GCC 12's -Wrestrict at -O3.
    std::string line = "[";
    line.append(spec_->path()).append("] ").append(message);
    spec_->scope.env->log(line);
  }

  /// A timer of this actor fired.
  void wake(std::uint64_t token) {
    auto it = sleepers_.find(token);
    if (it == sleepers_.end())
      return;
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
  /// exec and its fallback failed, or the node could not even be made.
  virtual void exec_failed(const Error& error) = 0;

  /// Makes the node instance; on failure reports it through exec_failed.
  bool make_node() {
    auto made = detail::guarded([&] { return where("factory"); }, [&] {
      auto n = spec_->factory();
      if (!n)
        throw Failure(Error{Errc::invalid_flow, "the factory returned no node"});
      return n;
    });
    if (!made) {
      exec_failed(made.error());
      return false;
    }
    node_ = std::move(*made);
    return true;
  }

  /// Starts exec on `input`; its end arrives in exec_succeeded or exec_failed, now or after
  /// awaits.
  void start_exec(Value input, std::optional<std::size_t> index) {
    exec_input_ = std::move(input);
    ctx_.emplace(*this, spec_->name, index);
    auto started = detail::guarded([&] { return where("exec"); }, [&] {
      task_ = node_->exec(exec_input_, *ctx_);
      task_.start(); // runs to the first await; an exception is kept in the task
    });
    if (!started)
      return after_exec(started.error());
    after_resume();
  }

  /// Frees exec's coroutine frame, context and node instance. An item actor calls this as soon
  /// as it has its outcome: they were allocated on this worker thread and are freed here too,
  /// instead of on whichever thread drops the actor's last reference (cross-thread frees
  /// contend on the allocator's locks).
  void release_exec() {
    task_ = {};
    sleepers_.clear();
    ctx_.reset();
    exec_input_ = Value{};
    node_.reset();
  }

  caf::event_based_actor* self_;
  NodeSpecPtr spec_;
  std::unique_ptr<Node> node_;

private:
  void resume(std::coroutine_handle<> h) {
    h.resume();
    after_resume();
  }

  void after_resume() {
    if (!task_.done())
      return; // suspended on another await; its message will resume it
    auto value = detail::guarded([&] { return where("exec"); }, [&] { return task_.take(); });
    if (value)
      return exec_succeeded(std::move(*value));
    after_exec(value.error());
  }

  // exec failed: the fallback may still supply a value.
  void after_exec(const Error& error) {
    auto fallback = detail::guarded([&] { return where("exec_fallback"); },
                                    [&] { return node_->exec_fallback(exec_input_, error); });
    if (fallback)
      return exec_succeeded(std::move(*fallback));
    // The default fallback rethrows exec's error: report that error, not a wrapped copy.
    exec_failed(fallback.error().code == error.code ? error : fallback.error());
  }

  // Destroyed in reverse order: the coroutine frame goes before what it refers to.
  Value exec_input_;
  std::optional<Context> ctx_;
  std::uint64_t next_token_ = 0;
  std::unordered_map<std::uint64_t, std::coroutine_handle<>> sleepers_;
  Task<Value> task_; // last: its frame refers to node_, ctx_ and exec_input_
};

// -- the item actor -----------------------------------------------------------------------------

class ItemActor final : public caf::event_based_actor, public TimeoutTracked, public ExecSite {
public:
  ItemActor(caf::actor_config& cfg, NodeSpecPtr spec, caf::actor parent, std::uint32_t slot,
            std::size_t index, Value item)
      : caf::event_based_actor(cfg), ExecSite(this, std::move(spec)), parent_(std::move(parent)),
        item_(std::move(item)), index_(index), slot_(slot) {}

  const char* name() const override { return "actorflow.item"; }

  // Killed (its batch stopped or its run was cancelled): free the node and its suspended
  // coroutine now. The actor object itself may live on for a while (a pending timer message
  // holds a reference to it), and it should not keep the user's node alive with it.
  void on_exit() override { release_exec(); }

  caf::behavior make_behavior() override {
    started_ = Clock::now();
    if (make_node())
      start_exec(std::move(item_), index_);
    if (done_)
      return {}; // finished without awaiting anything: no behavior, the actor terminates
    return {[this](wake_atom, std::uint64_t token) { wake(token); }};
  }

private:
  std::string where(const char* step) const override {
    return "node '" + spec_->path() + "' item " + std::to_string(index_) + " " + step;
  }

  void exec_succeeded(Value result) override { finish(std::move(result)); }
  void exec_failed(const Error& error) override { finish(error); }

  void finish(std::variant<Value, Error> result) {
    release_exec();
    ItemOutcome outcome;
    outcome.index = index_;
    outcome.result = std::move(result);
    outcome.attempts = 1;
    outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    send(parent_, item_done_atom::value, slot_, std::move(outcome));
    done_ = true;
    quit();
  }

  caf::actor parent_;
  Value item_;
  std::size_t index_;
  std::uint32_t slot_; // the parent's in-flight slot, sent back with the outcome
  bool done_ = false;
  Clock::time_point started_;
};

// -- the node actor: single node or batch -------------------------------------------------------

// Children of a batch still running, one slot per place in the window. Shared with the exit
// hook, which runs after the actor's state is destroyed: a batch actor that dies (cancel) takes
// its items with it.
struct InFlight {
  std::vector<caf::actor> actors;   // by slot; invalid when the slot is free
  std::vector<std::size_t> indices; // by slot: the item index running there
  std::vector<std::uint32_t> free;  // free slots
  std::size_t count = 0;
};

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

struct NodeActorState : ExecSite {
  using Self = caf::stateful_actor<NodeActorState>;
  explicit NodeActorState(Self* s) : ExecSite(s, nullptr) {}

  static inline const char* name = "actorflow.node";

  void set_spec(NodeSpecPtr spec) { spec_ = std::move(spec); }

  // -- single and batch: the flow's request -----------------------------------------------------

  caf::response_promise start(State initial) {
    promise = self_->make_response_promise();
    state = std::move(initial);
    if (!make_node())
      return promise;
    auto prepped = detail::guarded([&] { return where("prep"); }, [&] { return node_->prep(state); });
    if (!prepped) {
      reply(prepped.error());
      return promise;
    }
    prep_result = std::move(*prepped);
    if (auto* batch = dynamic_cast<ParallelBatchNode*>(node_.get()))
      start_batch(*batch);
    else
      start_exec(prep_result, std::nullopt);
    return promise;
  }

  std::string where(const char* step) const override {
    return "node '" + spec_->path() + "' " + step;
  }

  void exec_succeeded(Value result) override {
    auto action = detail::guarded([&] { return where("post"); },
                                  [&] { return node_->post(state, prep_result, result); });
    if (!action)
      return reply(action.error());
    reply(RunResult{std::move(state), std::move(*action), {spec_->name}, {}});
  }

  void exec_failed(const Error& error) override { reply(error); }

  void reply(Result<RunResult> result) {
    promise.deliver(StepReply::of(std::move(result)));
    self_->quit();
  }

  // -- batch: the fan-out -----------------------------------------------------------------------

  void start_batch(ParallelBatchNode& batch) {
    fan.emplace(batch);
    auto window = fan->options.max_concurrency;
    if (window == 0 || window > std::numeric_limits<std::uint32_t>::max())
      return reply(Error{Errc::bad_input, where("batch") + ": max_concurrency is " +
                                              std::to_string(window) +
                                              " (expected 1 to 4294967295)"});
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
    fan->t0 = Clock::now();
    // The window's slots, allocated up front (capped: a huge window over a short source should
    // not reserve memory it never uses; slots beyond are added as needed).
    auto& slots = *fan->in_flight;
    auto reserve = std::min<std::size_t>(window, fan->source.size.value_or(window));
    slots.actors.reserve(std::min<std::size_t>(reserve, 1 << 16));
    // A batch actor that dies (its run was cancelled) takes its items with it.
    self_->attach_functor([children = fan->in_flight] {
      for (auto& child : children->actors)
        if (child)
          caf::anon_send_exit(child, caf::exit_reason::user_shutdown);
      children->actors.clear();
    });
    pump();
  }

  // Fills the window: pulls items and spawns their actors while there is room.
  void pump() {
    auto& f = *fan;
    auto& slots = *f.in_flight;
    while (!f.stopping && !f.exhausted && slots.count < f.options.max_concurrency) {
      auto item = detail::guarded([&] { return where("items"); }, [&] { return f.source.next(); });
      if (!item)
        return fail_batch(item.error());
      if (!*item) {
        f.exhausted = true;
        f.tally.set_total(f.started);
        break;
      }
      auto index = f.started++;
      std::uint32_t slot;
      if (!slots.free.empty()) {
        slot = slots.free.back();
        slots.free.pop_back();
      } else {
        slot = static_cast<std::uint32_t>(slots.actors.size());
        slots.actors.emplace_back();
        slots.indices.emplace_back();
      }
      slots.actors[slot] =
          self_->spawn<ItemActor>(spec_, caf::actor{self_}, slot, index, std::move(**item));
      slots.indices[slot] = index;
      ++slots.count;
      if (!f.options.as_completed)
        f.results.emplace_back().index = index; // filled when the outcome arrives
    }
    if (f.exhausted && slots.count == 0 && !f.stopping)
      finish_batch(f.tally.at_end());
  }

  void on_item_done(std::uint32_t slot, ItemOutcome outcome) {
    auto& f = *fan;
    auto& slots = *f.in_flight;
    if (f.stopping || slot >= slots.actors.size() || !slots.actors[slot] ||
        slots.indices[slot] != outcome.index)
      return; // late: from a child cancelled when the batch stopped
    slots.actors[slot] = caf::actor{};
    slots.free.push_back(slot);
    --slots.count;
    ++f.finished;
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
    if (f.finished % f.progress_stride == 0)
      report_progress(false);
    switch (verdict) {
      case detail::BatchTally::Verdict::failed:
        return fail_batch(f.first_error ? *f.first_error
                                        : Error{Errc::batch_failed, f.tally.failure_reason()});
      case detail::BatchTally::Verdict::succeeded:
        if (!f.exhausted || slots.count != 0)
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
    auto& slots = *f.in_flight;
    f.stopping = true;
    for (std::size_t slot = 0; slot < slots.actors.size(); ++slot) {
      if (!slots.actors[slot])
        continue;
      self_->send_exit(slots.actors[slot], caf::exit_reason::user_shutdown);
      slots.actors[slot] = caf::actor{};
      ++f.cancelled;
      auto index = slots.indices[slot];
      if (!f.options.as_completed)
        f.results[index].result =
            Error{Errc::cancelled, where("batch") + ": item " + std::to_string(index) +
                                       " cancelled: the batch stopped early"};
    }
    slots.count = 0;
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
    auto action = detail::guarded([&] { return where("post_batch"); }, [&] {
      return f.node->post_batch(state, prep_result, std::move(result));
    });
    if (!action)
      return reply(action.error());
    reply(RunResult{std::move(state), std::move(*action), {spec_->name}, {}});
  }

  void report_progress(bool finished) {
    if (!spec_->scope.hooks || !spec_->scope.hooks->progress)
      return;
    auto& f = *fan;
    BatchProgress p;
    p.node = spec_->path();
    p.done = f.finished;
    p.failed = f.tally.failed();
    p.in_flight = f.in_flight->count;
    p.total = f.tally.total();
    p.finished = finished;
    spec_->scope.hooks->progress(p);
  }

  caf::response_promise promise;
  State state;
  Value prep_result;
  std::optional<FanOut> fan; // batch only
};

using Self = NodeActorState::Self;

caf::behavior node_actor(Self* self, NodeSpecPtr spec) {
  self->state.set_spec(std::move(spec));
  return {
      [self](run_atom, State& initial) -> caf::response_promise {
        return self->state.start(std::move(initial));
      },
      [self](wake_atom, std::uint64_t token) { self->state.wake(token); },
      [self](item_done_atom, std::uint32_t slot, ItemOutcome& outcome) {
        if (self->state.fan)
          self->state.on_item_done(slot, std::move(outcome));
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
                            NodeFactory factory) {
  return parent->spawn<caf::linked>(
      node_actor, std::make_shared<const NodeSpec>(NodeSpec{std::move(scope), std::move(name),
                                                            std::move(factory)}));
}

} // namespace actorflow::actors
