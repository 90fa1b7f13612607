#include "actors/flow_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/messages.hpp"
#include "actors/node_actor.hpp"
#include "actors/node_spec.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

namespace actorflow::actors {

namespace {

struct FlowActorState {
  using Self = caf::stateful_actor<FlowActorState>;
  static inline const char* name = "actorflow.flow";

  Scope scope;
  std::shared_ptr<const detail::FlowGraph> graph;
  // Root flows report here, exactly once: shared with the exit hook, which fires after the
  // state is gone (CAF destroys the state before running attached functors).
  std::shared_ptr<RunCallback> on_done;
  caf::response_promise rp; // nested flows answer their requester instead
  std::size_t current = 0;
  std::size_t steps = 0;
  caf::actor child;                        // the running step, stopped if the deadline passes
  std::chrono::milliseconds time_limit{0}; // the deadline armed at the start; zero: none
  RunResult acc;                           // state, path and warnings so far
  OpenSpan span; // this flow run's, while it runs (when the run is traced)

  FlowActorState() = default;
  FlowActorState(const FlowActorState&) = delete;
  FlowActorState& operator=(const FlowActorState&) = delete;
  // A flow killed before it finished (its run cancelled, a parent's deadline) still ends its
  // span, so that the spans of its children have a parent.
  ~FlowActorState() {
    if (span)
      end_span(Error{Errc::cancelled, "flow '" + graph->name + "': stopped before it finished"});
  }

  void end_span(std::optional<Error> error) {
    detail::close_span(scope.spans(), span, SpanEvent::Kind::flow, graph->name, std::nullopt, 0,
                       scope.span, error ? &*error : nullptr);
  }
};

using Self = FlowActorState::Self;

// Always a normal exit: a nested flow is linked to the node awaiting it, which must live on to
// handle the outcome (linked actors ignore a normal exit).
void finish(Self* self, Result<RunResult> result) {
  auto& st = self->state;
  st.end_span(result.ok() ? std::nullopt : std::optional<Error>(result.error()));
  if (st.on_done) {
    if (auto done = std::exchange(*st.on_done, nullptr))
      done(std::move(result));
  } else
    st.rp.deliver(StepReply::of(std::move(result)));
  self->quit();
}

void fail(Self* self, Error error) {
  error.message = "flow '" + self->state.graph->name + "': " + error.message;
  finish(self, std::move(error));
}

void on_step_done(Self* self, RunResult step);

// -- node events (RunOptions::stream) ------------------------------------------------------------

// What `after` changed of `before`: keys set or changed, with their values; removed, with null.
// Values shared between the two States (what a node did not touch) compare by address.
Map changes_between(const State& before, const State& after) {
  Map changes;
  for (const auto& key : after.keys()) {
    const Value* now = after.find(key);
    const Value* was = before.find(key);
    if (was == nullptr || (was != now && !(*was == *now)))
      changes.emplace(key, *now);
  }
  for (const auto& key : before.keys())
    if (!after.contains(key))
      changes.emplace(key, Value{});
  return changes;
}

void report_node_finished(Self* self, const State& before, const State& after,
                          const std::string& action) {
  auto& st = self->state;
  const auto& hooks = *st.scope.hooks;
  const bool values = hooks.streams(StreamMode::values);
  const bool updates = hooks.streams(StreamMode::updates);
  if (!values && !updates)
    return;
  NodeFinished finished;
  finished.action = action;
  if (updates)
    finished.changes = changes_between(before, after);
  if (values)
    finished.state = after;
  hooks.events->emit(st.scope.path + st.graph->vertices[st.current].name, st.scope.item,
                     std::move(finished));
}

void report_node_failed(Self* self, const Error& error) {
  auto& st = self->state;
  const auto& hooks = *st.scope.hooks;
  if (!hooks.streams(StreamMode::values) && !hooks.streams(StreamMode::updates))
    return;
  NodeFinished finished;
  finished.error = error;
  hooks.events->emit(st.scope.path + st.graph->vertices[st.current].name, st.scope.item,
                     std::move(finished));
}

// Runs the current vertex in a fresh linked child.
void run_step(Self* self) {
  auto& st = self->state;
  const auto& graph = *st.graph;
  if (++st.steps > graph.max_steps)
    return fail(self,
                Error{Errc::step_limit, "more than max_steps=" + std::to_string(graph.max_steps) +
                                            " node runs (a cycle that never ends?); last node: '" +
                                            graph.vertices[st.current].name + "'"});
  const auto& vertex = graph.vertices[st.current];
  auto place = st.scope.step_place(vertex.name, st.steps);
  const auto& hooks = *st.scope.hooks;
  if (hooks.streams(StreamMode::debug))
    hooks.events->emit(st.scope.path + vertex.name, st.scope.item, NodeStarted{});
  caf::actor child;
  switch (vertex.kind) {
    case detail::Vertex::Kind::sub_flow:
      child = spawn_child_flow(self, st.scope.nested(vertex.name, st.span.id, std::move(place)),
                               vertex.sub_flow);
      break;
    case detail::Vertex::Kind::factory:
      child = spawn_child_node(self, st.scope.within(st.span.id, std::move(place)), vertex.name,
                               vertex.factory, vertex.retry);
      break;
    case detail::Vertex::Kind::registered:
      child = spawn_child_node(self, st.scope.within(st.span.id, std::move(place)), vertex.name,
                               registered_factory(st.scope.env, vertex.type_name), vertex.retry,
                               vertex.type_name);
      break;
  }
  st.child = child;
  self->request(child, caf::infinite, run_atom::value, st.acc.state)
      .then(
          [self](StepReply& reply) {
            self->state.child = caf::actor{};
            auto result = std::move(reply).take();
            if (!result) {
              report_node_failed(self, result.error());
              return fail(self, std::move(result).error());
            }
            on_step_done(self, std::move(*result));
          },
          [self](caf::error& err) {
            auto& s = self->state;
            auto error = to_error(err, "node '" + s.graph->vertices[s.current].name + "'");
            report_node_failed(self, error);
            fail(self, std::move(error));
          });
}

// A durable run's root flow records its position and State after each step, before the next
// one starts (commit after success). Synchronous: a step is far longer than one SQLite commit.
Result<void> commit_step(Self* self, std::string next_node) {
  auto& st = self->state;
  const auto& checkpoint = st.scope.hooks->checkpoint;
  if (!st.on_done || !checkpoint)
    return {};
  StepCheckpoint step{st.steps, st.graph->vertices[st.current].name, std::move(next_node),
                      st.acc.state, checkpoint->cost ? checkpoint->cost() : 0.0};
  auto committed = checkpoint->store->commit_step(checkpoint->run_id, step);
  if (!committed)
    return Error{committed.error().code,
                 "checkpoint after node '" + step.node + "': " + committed.error().message};
  return {};
}

void on_step_done(Self* self, RunResult step) {
  auto& st = self->state;
  const auto& vertex = st.graph->vertices[st.current];
  report_node_finished(self, st.acc.state, step.state, step.action);
  st.acc.state = std::move(step.state);
  if (vertex.kind == detail::Vertex::Kind::sub_flow) {
    for (auto& p : step.path)
      st.acc.path.push_back(vertex.name + "/" + p);
  } else {
    st.acc.path.push_back(vertex.name);
  }
  for (auto& w : step.warnings)
    st.acc.warnings.push_back(std::move(w));
  st.acc.retries += step.retries;
  auto edge = vertex.edges.find(step.action);
  if (auto committed = commit_step(
          self, edge != vertex.edges.end() ? st.graph->vertices[edge->second].name : std::string());
      !committed)
    return fail(self, std::move(committed).error());
  if (edge != vertex.edges.end()) {
    st.current = edge->second;
    return run_step(self);
  }
  if (!vertex.edges.empty()) {
    std::string known;
    for (const auto& [action, target] : vertex.edges)
      known += (known.empty() ? "'" : ", '") + action + "'";
    st.acc.warnings.push_back("flow '" + st.graph->name + "': node '" + vertex.name +
                              "' returned action '" + step.action +
                              "', which has no edge (edges: " + known + "); the flow ends here");
  }
  st.acc.action = std::move(step.action);
  finish(self, std::move(st.acc));
}

caf::behavior flow_actor(Self* self, Scope scope, std::shared_ptr<const detail::FlowGraph> graph,
                         RunCallback on_done) {
  auto& st = self->state;
  st.scope = std::move(scope);
  st.graph = std::move(graph);
  if (on_done) {
    st.on_done = std::make_shared<RunCallback>(std::move(on_done));
    // A root that is killed (cancel, shutdown) still owes its run an outcome.
    self->attach_functor([once = st.on_done](const caf::error& reason) {
      if (auto done = std::exchange(*once, nullptr))
        done(to_error(reason, "run"));
    });
  }
  return {
      [self](run_atom, State& initial) -> caf::response_promise {
        auto& s = self->state;
        s.rp = self->make_response_promise();
        if (auto* sink = s.scope.spans())
          s.span = OpenSpan{sink->new_id(), sink->now()};
        s.acc.state = std::move(initial);
        s.current = s.graph->start;
        // A resumed root starts where its last committed step pointed.
        if (const auto& checkpoint = s.scope.hooks->checkpoint;
            s.on_done && checkpoint && checkpoint->start_vertex) {
          s.current = *checkpoint->start_vertex;
          s.steps = checkpoint->steps_done;
        }
        // The flow's own limit, and for a root the run's: a nested flow's parent deadline
        // applies anyway (the parent's stop takes its children with it).
        auto& limit = s.time_limit;
        limit = s.graph->deadline;
        auto run_deadline = s.scope.hooks->options.deadline;
        if (s.on_done && run_deadline.count() > 0 && (limit.count() == 0 || run_deadline < limit))
          limit = run_deadline;
        if (limit.count() > 0)
          self->delayed_send(self, limit, deadline_atom::value);
        run_step(self);
        return s.rp;
      },
      [self](deadline_atom) {
        auto& s = self->state;
        Error error{Errc::deadline_exceeded,
                    "flow '" + s.graph->name + "': deadline passed (time limit " +
                        std::to_string(s.time_limit.count()) + " ms); its actors were stopped"};
        // Stop the running step (and, through its links, everything under it) without
        // taking this flow's own parent along.
        if (s.child) {
          self->unlink_from(s.child);
          self->send_exit(s.child, caf::exit_reason::user_shutdown);
          s.child = caf::actor{};
        }
        finish(self, std::move(error));
      },
  };
}

} // namespace

caf::actor spawn_root_flow(caf::actor_system& system, Scope scope,
                           std::shared_ptr<const detail::FlowGraph> graph, RunCallback on_done) {
  return system.spawn(flow_actor, std::move(scope), std::move(graph), std::move(on_done));
}

caf::actor spawn_child_flow(caf::local_actor* parent, Scope scope,
                            std::shared_ptr<const detail::FlowGraph> graph) {
  return parent->spawn<caf::linked>(flow_actor, std::move(scope), std::move(graph), RunCallback{});
}

} // namespace actorflow::actors
