#include "actors/exec_site.hpp"

#include <actorflow/checkpoint.hpp>
#include <actorflow/flow.hpp>

#include "actors/actor_slot.hpp"
#include "actors/caf_error.hpp"
#include "actors/limit_controller.hpp"
#include "actors/messages.hpp"
#include "core/flow_graph.hpp"
#include "core/guard.hpp"
#include "store/run_checkpoint.hpp"

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

namespace actorflow::actors {

// -- ExecHost ------------------------------------------------------------------------------------

void ExecSite::sleep(std::chrono::nanoseconds delay, std::coroutine_handle<> h) {
  if (delay <= std::chrono::nanoseconds{0})
    return resume_soon(h);
  auto token = next_token_++;
  sleepers_.emplace(token, h);
  self_->delayed_send(self_, std::chrono::duration_cast<std::chrono::microseconds>(delay),
                      wake_atom::value, token);
}

void ExecSite::resume_soon(std::coroutine_handle<> h) {
  auto token = next_token_++;
  sleepers_.emplace(token, h);
  self_->send(self_, wake_atom::value, token);
}

void ExecSite::run_flow(const Flow& flow, State initial, std::coroutine_handle<> h,
                        std::optional<Result<RunResult>>& out) {
  const auto& env = *spec_->scope.env;
  auto child = env.spawn_flow(self_, sub_flow_scope(), detail::FlowAccess::graph(flow));
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

void ExecSite::run_flows(std::vector<std::pair<Flow, State>> runs, std::coroutine_handle<> h,
                         std::optional<std::vector<Result<RunResult>>>& out) {
  // The results gather here as they come, in any order; the last one resumes the node.
  struct Gather {
    std::vector<std::optional<Result<RunResult>>> results;
    std::size_t left;
  };
  auto gather = std::make_shared<Gather>();
  gather->results.resize(runs.size());
  gather->left = runs.size();
  if (runs.empty()) {
    out.emplace();
    resume_soon(h);
    return;
  }
  const auto& env = *spec_->scope.env;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    auto& [flow, initial] = runs[i];
    auto child = env.spawn_flow(self_, sub_flow_scope(), detail::FlowAccess::graph(flow));
    attempt_children_.push_back(child);
    auto arrive = [this, h, &out, gather, i, gen = generation_](Result<RunResult> result) {
      if (gen != generation_)
        return; // for an abandoned attempt
      gather->results[i] = std::move(result);
      if (--gather->left > 0)
        return;
      std::vector<Result<RunResult>> all;
      all.reserve(gather->results.size());
      for (auto& r : gather->results)
        all.push_back(std::move(*r));
      out = std::move(all);
      resume(h);
    };
    self_->request(child, caf::infinite, run_atom::value, std::move(initial))
        .then([arrive](StepReply& reply) mutable { arrive(std::move(reply).take()); },
              [arrive, where = "sub-flow '" + flow.name() + "'"](caf::error& err) mutable {
                arrive(to_error(err, where));
              });
  }
}

void ExecSite::ask(const ActorRef& target, Value request, std::chrono::nanoseconds timeout,
                   std::coroutine_handle<> h, std::optional<Result<Value>>& out) {
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

void ExecSite::crash_self() {
  caf::anon_send_exit(caf::actor_cast<caf::actor>(self_), caf::exit_reason::kill);
}

void ExecSite::await_external(std::function<void(std::function<void()> wake)> start,
                              std::coroutine_handle<> h) {
  auto token = next_token_++;
  sleepers_.emplace(token, h);
  // Weak: a model call that outlives its node (timed out, cancelled) must not keep the actor
  // alive; its wake then finds no one and is dropped.
  caf::weak_actor_ptr me(self_->ctrl());
  start([me = std::move(me), token] {
    if (auto strong = me.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), wake_atom::value, token);
  });
}

void ExecSite::acquire(std::string_view provider, std::string_view model, std::uint64_t tokens,
                       bool batched, std::coroutine_handle<> h,
                       std::optional<Result<detail::ModelLeasePtr>>& out) {
  LeaseReport report{remote_limits_ ? remote_limits_->hooks : spec_->scope.hooks,
                     std::string(provider),
                     {},
                     std::string(model),
                     spec_->path,
                     ctx_ ? ctx_->item_index() : std::nullopt,
                     tokens,
                     {},
                     spec_->scope.env->prices.find(provider, model),
                     batched,
                     {},
                     0,
                     0};
  // What the provider is, for those who listen (OpenTelemetry's gen_ai.provider.name).
  if (spec_->scope.spans() || report.hooks->options.on_model_call)
    if (auto found = spec_->scope.env->models.find(provider))
      report.provider_kind = std::string(found->kind());
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
  self_
      ->request(remote_limits_->gateway, caf::infinite, ctrl_atom::value, report.provider,
                report.model)
      .then(
          [this, h, &out, report = std::move(report), wait,
           gen = generation_](caf::actor& controller, std::uint64_t id) mutable {
            if (gen == generation_)
              request_grant(std::move(controller), id, remote_limits_->run, remote_limits_->weight,
                            std::move(report), wait, h, out);
          },
          [this, h, &out, gen = generation_](caf::error& err) {
            if (gen != generation_)
              return;
            out = to_error(err, "model call: the run's limit gateway");
            resume(h);
          });
}

void ExecSite::request_grant(caf::actor controller, std::uint64_t id, std::uint64_t run,
                             double weight, LeaseReport report, OpenSpan wait,
                             std::coroutine_handle<> h,
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

std::optional<std::size_t> ExecSite::event_item() const {
  if (ctx_ && ctx_->item_index())
    return ctx_->item_index();
  return spec_->scope.item;
}

std::string ExecSite::attempt_place() const {
  auto place = spec_->scope.place;
  if (ctx_ && ctx_->item_index())
    place.append("[").append(std::to_string(*ctx_->item_index())).append("]");
  return place;
}

Scope ExecSite::sub_flow_scope() {
  auto scope = spec_->scope.nested(spec_->name, span_parent_,
                                   attempt_place() + "run" + std::to_string(sub_flows_++) + "/");
  scope.item = event_item();
  scope.attempts = spec_->scope.attempts + "a" + std::to_string(attempt_) + "/";
  return scope;
}

void ExecSite::raise_interrupt(Value question, const InterruptOptions& options,
                               std::function<void(Result<Value>)> done) {
  const auto& board = spec_->scope.hooks->interrupts;
  if (!board || remote_limits_) {
    done(Error{Errc::bad_input, where("exec") + ": an item running on a cluster node cannot "
                                                "raise an interrupt (run it in its own Runtime)"});
    return;
  }
  Interrupt raised;
  raised.id = checkpoint_item_key(
      attempt_place(), std::string("interrupt#").append(std::to_string(interrupts_++)), question);
  raised.node = spec_->path;
  raised.item = event_item();
  raised.question = std::move(question);
  auto id = raised.id;
  if (auto now = board->raise(std::move(raised), done))
    return done(std::move(*now));
  if (options.timeout.count() <= 0)
    return;
  auto token = next_token_++;
  timers_.emplace(token, [board, id = std::move(id), options] { board->expire(id, options); });
  self_->delayed_send(self_, std::chrono::duration_cast<std::chrono::microseconds>(options.timeout),
                      wake_atom::value, token);
}

CallOrigin ExecSite::next_call_origin() {
  const auto number = model_calls_++;
  const auto& checkpoint = spec_->scope.hooks->checkpoint;
  // Only a durable run's ids are unique in its store and come back on resume.
  if (!checkpoint)
    return {};
  return CallOrigin{checkpoint->run_id, spec_->scope.attempts + attempt_place() + "attempt" +
                                            std::to_string(attempt_) + "/call" +
                                            std::to_string(number)};
}

void ExecSite::emit(RunEvent::Body body) {
  if (const auto& events = spec_->scope.hooks->events)
    events->emit(spec_->path, event_item(), std::move(body));
}

std::function<void(std::string_view)> ExecSite::token_sink() {
  const auto& hooks = *spec_->scope.hooks;
  if (!hooks.streams(StreamMode::tokens))
    return {};
  return [events = hooks.events, node = spec_->path, item = event_item()](std::string_view piece) {
    events->token(node, item, piece);
  };
}

void ExecSite::wake(std::uint64_t token) {
  if (auto timer = timers_.find(token); timer != timers_.end()) {
    auto fire = std::move(timer->second);
    timers_.erase(timer);
    return fire();
  }
  auto it = sleepers_.find(token);
  if (it == sleepers_.end())
    return; // for an abandoned attempt
  auto h = it->second;
  sleepers_.erase(it);
  resume(h);
}

// -- running exec ------------------------------------------------------------------------------

std::optional<Error> ExecSite::make_node() {
  auto made = new_instance(*spec_, [&] { return where("factory"); });
  if (!made)
    return made.error();
  node_ = std::move(*made);
  return std::nullopt;
}

void ExecSite::start_exec(const Value& input, std::optional<std::size_t> index,
                          std::uint32_t attempt) {
  attempt_ = attempt;
  interrupts_ = 0;
  sub_flows_ = 0;
  model_calls_ = 0;
  exec_input_ = &input;
  ctx_.emplace(*this, spec_->name, index);
  auto started =
      detail::guarded([&] { return where("exec"); },
                      [&] {
                        task_ = node_->exec(input, *ctx_);
                        task_.start(); // runs to the first await; an exception is kept in the task
                      });
  if (!started)
    return after_exec(started.error());
  finish_if_done();
}

void ExecSite::resume(std::coroutine_handle<> h) {
  h.resume();
  finish_if_done();
}

void ExecSite::finish_if_done() {
  if (!task_.done())
    return; // suspended on another await; its message will resume it
  auto value = detail::guarded([&] { return where("exec"); }, [&] { return task_.take(); });
  if (!value)
    return after_exec(value.error());
  attempt_children_.clear();
  exec_succeeded(std::move(*value));
}

void ExecSite::after_exec(const Error& error) {
  attempt_children_.clear();
  if (defer_failures_ || (policy_ && policy_->should_retry(error, attempt_)))
    return exec_failed(error, true);
  auto fallback = fallback_of(*node_, *exec_input_, error, where("exec_fallback"));
  if (!fallback)
    return exec_failed(fallback.error(), false);
  report_attempt(AttemptEvent::Kind::fallback_used, error);
  exec_succeeded(std::move(*fallback));
}

void ExecSite::abandon_exec() {
  ++generation_;
  for (auto& [id, controller] : pending_grants_)
    self_->send(controller, cancel_atom::value, id);
  pending_grants_.clear();
  task_ = {};
  sleepers_.clear();
  timers_.clear();
  for (auto& child : attempt_children_) {
    self_->unlink_from(child); // linked for cancellation; its death must not take us along
    self_->send_exit(child, caf::exit_reason::kill);
  }
  attempt_children_.clear();
}

void ExecSite::release_exec() {
  task_ = {};
  sleepers_.clear();
  timers_.clear();
  ctx_.reset();
  exec_input_ = nullptr;
  node_.reset();
}

std::chrono::steady_clock::time_point ExecSite::now() const { return self_->clock().now(); }

void ExecSite::report_fallback(const RouteTarget& from, const RouteTarget& to, const Error& why) {
  const RunHooks& hooks = remote_limits_ ? *remote_limits_->hooks : *spec_->scope.hooks;
  hooks.meter->fell_back();
  if (!hooks.options.on_attempt)
    return;
  AttemptEvent event;
  event.kind = AttemptEvent::Kind::model_fallback;
  event.node = spec_->path;
  event.item = ctx_ ? ctx_->item_index() : std::nullopt;
  event.attempt = attempt_;
  event.error = why;
  event.from = from.provider + "/" + from.model;
  event.to = to.provider + "/" + to.model;
  hooks.options.on_attempt(event);
}

void ExecSite::report_attempt(AttemptEvent::Kind kind, const Error& error) const {
  spec_->scope.hooks->report_attempt(kind, spec_->path, ctx_ ? ctx_->item_index() : std::nullopt,
                                     attempt_, error);
}

} // namespace actorflow::actors
