// The node actor: one per node execution. Runs prep, exec and post of a fresh node instance and
// hosts exec's coroutine: every await arranges a message to this actor, whose handler resumes
// the coroutine, so a suspended node holds no thread and its code never runs concurrently.

#include "actors/actor_slot.hpp"
#include "actors/step_actors.hpp"
#include "core/guard.hpp"

#include <actorflow/context.hpp>
#include <actorflow/flow.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <coroutine>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace actorflow::actors {

namespace {

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
    auto child = spawn_child_flow(self, env, flow.graph());
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
    if (env->log)
      env->log("[" + node_name + "] " + std::string(message));
  }

  // -- the three steps --------------------------------------------------------------------------

  void start(State initial) {
    state = std::move(initial);
    auto made = detail::guarded(where("factory"), [&] {
      auto n = factory();
      if (!n)
        throw Failure(Error{Errc::invalid_flow, "the factory returned no node"});
      return n;
    });
    if (!made)
      return reply(made.error());
    node = std::move(*made);
    auto prepped = detail::guarded(where("prep"), [&] { return node->prep(state); });
    if (!prepped)
      return reply(prepped.error());
    prep_result = std::move(*prepped);
    ctx.emplace(*this, node_name, std::nullopt);
    auto started = detail::guarded(where("exec"), [&] {
      task = node->exec(prep_result, *ctx);
      task.start(); // runs to the first await; an exception is kept in the task
    });
    if (!started)
      return finish_exec(started.error());
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
      return finish_post(std::move(*value));
    finish_exec(value.error());
  }

  // exec failed: the fallback may still supply a value.
  void finish_exec(const Error& error) {
    auto fallback = detail::guarded(where("exec_fallback"),
                                    [&] { return node->exec_fallback(prep_result, error); });
    if (!fallback) {
      // The default fallback rethrows exec's error: report that error, not a wrapped copy.
      reply(fallback.error().code == error.code ? error : fallback.error());
      return;
    }
    finish_post(std::move(*fallback));
  }

  void finish_post(Value exec_result) {
    auto action = detail::guarded(where("post"),
                                  [&] { return node->post(state, prep_result, exec_result); });
    if (!action)
      return reply(action.error());
    reply(RunResult{std::move(state), std::move(*action), {node_name}, {}});
  }

  void reply(Result<RunResult> result) {
    promise.deliver(StepReply::of(std::move(result)));
    self->quit();
  }

  std::string where(const char* step) const { return "node '" + node_name + "' " + step; }

  // -- state (destroyed in reverse order: the coroutine frame goes before what it refers to) --

  Self* self;
  EnvironmentPtr env;
  std::string node_name;
  NodeFactory factory;
  caf::response_promise promise;
  State state;
  std::unique_ptr<Node> node;
  Value prep_result;
  std::optional<Context> ctx;
  std::uint64_t next_token = 0;
  std::unordered_map<std::uint64_t, std::coroutine_handle<>> sleepers;
  Task<Value> task; // last: its frame refers to node, ctx and prep_result
};

caf::behavior node_actor(NodeActorState::Self* self, EnvironmentPtr env, std::string name,
                         NodeFactory factory) {
  auto& st = self->state;
  st.env = std::move(env);
  st.node_name = std::move(name);
  st.factory = std::move(factory);
  return {
      [self](run_atom, State& initial) -> caf::response_promise {
        auto& s = self->state;
        s.promise = self->make_response_promise();
        s.start(std::move(initial));
        return s.promise;
      },
      [self](wake_atom, std::uint64_t token) {
        auto& s = self->state;
        auto it = s.sleepers.find(token);
        if (it == s.sleepers.end())
          return;
        auto h = it->second;
        s.sleepers.erase(it);
        s.resume(h);
      },
  };
}

} // namespace

caf::actor spawn_child_node(caf::local_actor* parent, EnvironmentPtr env, std::string name,
                            NodeFactory factory) {
  return parent->spawn<caf::linked>(node_actor, std::move(env), std::move(name),
                                    std::move(factory));
}

} // namespace actorflow::actors
