#pragma once
// What an actor of a run knows about where it stands: the Runtime's environment, the run's
// hooks, its place in the flow, and the span that encloses what it starts.

#include <actorflow/llm.hpp>
#include <actorflow/node.hpp>
#include <actorflow/prices.hpp>

#include "actors/run_hooks.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace actorflow::detail {
struct FlowGraph;
class OtlpExporter;
} // namespace actorflow::detail

namespace actorflow::actors {

class Cluster;
class LimitControllers;
struct Scope;

/// Spawns a flow actor for `graph`, linked to `parent` (actors/flow_actor.hpp).
using SpawnFlow = caf::actor (*)(caf::local_actor* parent, Scope scope,
                                 std::shared_ptr<const detail::FlowGraph> graph);

/// Shared by every actor of one Runtime; read-only but for the controllers and the cluster
/// (both thread-safe).
struct Environment {
  NodeRegistry nodes;
  ModelRegistry models;
  PriceTable prices; // what model calls cost, by provider name and model
  std::function<void(std::string_view)> log;
  std::shared_ptr<LimitControllers> controllers; // set once the actor system is up
  std::shared_ptr<Cluster> cluster;              // set when the Runtime has the network
  // How node code starts a sub-flow (ctx.run). Set by the Runtime: the exec site that runs
  // node code must not depend on the flow actor, which spawns node actors.
  SpawnFlow spawn_flow = nullptr;
  // Where spans are exported (OpenTelemetry), when they are: a node host exports the spans
  // of the launches it runs for a run that is exported, into that run's trace.
  std::shared_ptr<detail::OtlpExporter> exporter;
};
using EnvironmentPtr = std::shared_ptr<const Environment>;

struct Scope {
  EnvironmentPtr env;
  std::shared_ptr<const RunHooks> hooks;
  std::string path;       // prefix for children's names: "" at the root, "outer/" inside "outer"
  std::uint64_t span = 0; // the span that encloses what starts here (0: none, or not traced)
  // Where this is, stable when the same code runs again to the same place (a retry, a resumed
  // run): the path with the step of each enclosing flow and the order of each sub-flow, e.g.
  // "outer@3/inner@1/". What interrupt ids are made of.
  std::string place{};
  // The batch item this runs for, also inside that item's sub-flows: events are labelled so.
  std::optional<std::size_t> item{};
  // The attempt of each enclosing node whose code started this (a sub-flow), e.g. "a2/": part
  // of a model call's origin, so that a retried node's sub-flows call anew. Not of interrupt
  // ids, which must be found again by the retry.
  std::string attempts{};

  /// The scope of the children of `name` (a nested flow, or a node's sub-flows), inside span
  /// `parent_span`, at `child_place`.
  [[nodiscard]] Scope nested(std::string_view name, std::uint64_t parent_span,
                             std::string child_place) const {
    return Scope{env,  hooks,   path + std::string(name) + "/", parent_span, std::move(child_place),
                 item, attempts};
  }
  /// The same path, inside span `parent_span`, at `child_place`.
  [[nodiscard]] Scope within(std::uint64_t parent_span, std::string child_place) const {
    return Scope{env, hooks, path, parent_span, std::move(child_place), item, attempts};
  }
  /// `place` + "<name>@<step>/": a flow's child run as its `step`th step.
  [[nodiscard]] std::string step_place(std::string_view name, std::size_t step) const {
    return place + std::string(name) + "@" + std::to_string(step) + "/";
  }
  /// The run's span sink, or null when nobody listens.
  [[nodiscard]] SpanSink* spans() const noexcept { return hooks ? hooks->spans.get() : nullptr; }
};

} // namespace actorflow::actors
