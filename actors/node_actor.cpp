#include "actors/node_actor.hpp"

#include <actorflow/batch.hpp>

#include "actors/batch_actor.hpp"
#include "actors/caf_error.hpp"
#include "actors/exec_site.hpp"
#include "actors/messages.hpp"
#include "actors/supervisor.hpp"
#include "core/guard.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace actorflow::actors {

namespace {

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
    if (supervisor)
      supervisor->stopped(work, stopped);
    end_node_span(stopped);
  }

  void set_spec(NodeSpecPtr spec) { spec_ = std::move(spec); }

  caf::response_promise start(State initial) {
    promise = self_->make_response_promise();
    state = std::move(initial);
    if (auto* sink = spec_->scope.spans())
      node_span = OpenSpan{sink->new_id(), sink->now()};
    if (auto failed = make_node()) {
      reply(std::move(*failed));
      return promise;
    }
    auto policy = policy_of(*node_, *spec_);
    auto prepped =
        detail::guarded([&] { return where("prep"); }, [&] { return node_->prep(state); });
    if (!prepped) {
      reply(prepped.error());
      return promise;
    }
    prep_result = std::move(*prepped);
    if (dynamic_cast<ParallelBatchNode*>(node_.get()) != nullptr) {
      start_batch(std::move(policy));
      return promise;
    }
    supervisor.emplace(self_, spec_, std::move(policy));
    policy_ = supervisor->rules().policy();
    work.parent_span = node_span.id;
    start_attempt();
    return promise;
  }

  std::string where(const char* step) const override { return spec_->where(step); }

  // -- a single node: its attempts in place, on the same instance (as PocketFlow retries) -----

  void start_attempt() {
    if (auto rejected = supervisor->begin_attempt(work, 0))
      return reply(std::move(*rejected));
    span_parent_ = work.attempt_span.id;
    start_exec(prep_result, std::nullopt, work.attempt);
  }

  void exec_succeeded(Value result) override {
    supervisor->succeeded(work);
    auto action = detail::guarded([&] { return where("post"); },
                                  [&] { return node_->post(state, prep_result, result); });
    if (!action)
      return reply(action.error());
    RunResult done{std::move(state), std::move(*action), {spec_->name}, {}};
    done.retries = work.attempt - 1;
    reply(std::move(done));
  }

  void exec_failed(const Error& error, bool retry) override {
    if (auto final = supervisor->failed(work, 0, error, retry))
      reply(std::move(*final));
  }

  void on_retry(std::uint32_t attempt) {
    // Not once the run is over: this actor's stop is on its way down the links.
    if (supervisor && !spec_->scope.hooks->ended() && supervisor->retry_due(work, attempt))
      start_attempt();
  }

  void on_timeout(std::uint32_t launch) {
    if (!supervisor)
      return;
    if (auto error = supervisor->timed_out(work, launch)) {
      abandon_exec();
      exec_failed(*error, supervisor->rules().retryable(*error, work.attempt));
    }
  }

  // -- a batch: its items run in a batch actor ------------------------------------------------

  void start_batch(std::optional<RetryPolicy> policy) {
    std::unique_ptr<ParallelBatchNode> batch_node(static_cast<ParallelBatchNode*>(node_.release()));
    auto batch = spawn_batch_actor(self_, spec_, std::move(batch_node), std::move(policy),
                                   std::move(prep_result), node_span.id);
    self_->request(batch, caf::infinite, run_atom::value, std::move(state))
        .then([this](StepReply& reply_) { reply(std::move(reply_).take()); },
              [this](caf::error& err) { reply(to_error(err, where("batch"))); });
  }

  // -- the end -------------------------------------------------------------------------------

  void reply(Result<RunResult> result) {
    end_node_span(result.ok() ? std::nullopt : std::optional<Error>(result.error()));
    promise.deliver(StepReply::of(std::move(result)));
    self_->quit();
  }

  void end_node_span(std::optional<Error> error) {
    detail::close_span(spec_->scope.spans(), node_span, SpanEvent::Kind::node, spec_->path,
                       std::nullopt, 0, spec_->scope.span, error ? &*error : nullptr);
  }

  caf::response_promise promise;
  State state;
  Value prep_result;
  OpenSpan node_span;                   // this execution's, while it runs (when traced)
  std::optional<Supervisor> supervisor; // a single node's attempts
  Supervised work;                      // ... and what the supervisor knows of them
};

using Self = NodeActorState::Self;

caf::behavior node_actor(Self* self, NodeSpecPtr spec) {
  self->state.set_spec(std::move(spec));
  return {
      [self](run_atom, State& initial) -> caf::response_promise {
        return self->state.start(std::move(initial));
      },
      [self](wake_atom, std::uint64_t token) { self->state.wake(token); },
      [self](retry_atom, std::uint32_t, std::uint32_t attempt) { self->state.on_retry(attempt); },
      [self](timeout_atom, std::uint32_t, std::uint32_t launch) { self->state.on_timeout(launch); },
  };
}

} // namespace

caf::actor spawn_child_node(caf::local_actor* parent, Scope scope, std::string name,
                            NodeFactory factory, std::optional<RetryPolicy> flow_policy,
                            std::string registered_type) {
  auto path = scope.path + name;
  return parent->spawn<caf::linked>(
      node_actor, std::make_shared<const NodeSpec>(NodeSpec{
                      std::move(scope), std::move(name), std::move(factory), std::move(flow_policy),
                      std::move(path), std::move(registered_type)}));
}

} // namespace actorflow::actors
