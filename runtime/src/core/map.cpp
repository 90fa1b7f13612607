// The flow-shaped batches: a ParallelBatchNode whose items are (flow, state) pairs and whose
// exec awaits that flow as a sub-run. Everything else (window, order, policies, cancellation,
// progress) is the fan-out's.

#include <actorflow/map.hpp>

#include <memory>
#include <utility>

namespace actorflow {

namespace {

struct MapSpec {
  std::vector<Flow> flows;
  std::function<std::vector<State>(const State&)> states; // empty: just the current state
  MapReducer reduce;
  BatchOptions options;
};

class MapNode final : public ParallelBatchNode {
public:
  explicit MapNode(std::shared_ptr<const MapSpec> spec)
      : ParallelBatchNode(spec->options), spec_(std::move(spec)) {}

  Value prep(const State& state) override {
    states_ = spec_->states ? spec_->states(state) : std::vector<State>{state};
    return {};
  }

  // Pairs in flow-major order, built one at a time as the window pulls them.
  ItemSource items(const State&, const Value&) override {
    auto count = spec_->flows.size() * states_.size();
    auto next = [this, at = std::size_t{0}, count]() mutable -> std::optional<Value> {
      if (at == count)
        return std::nullopt;
      auto flow = at / states_.size();
      auto state = at % states_.size();
      ++at;
      return Value::object({{"flow", flow}, {"state", states_[state].to_value()}});
    };
    return {std::move(next), count};
  }

  Task<Value> exec(Value item, Context& ctx) override {
    const auto& flow = spec_->flows.at(static_cast<std::size_t>(item.at("flow").as_int()));
    auto run = co_await ctx.run(flow, State(item.at("state").as_map()));
    if (!run)
      throw Failure(run.error());
    co_return run->state.to_value();
  }

  std::string post_batch(State& state, const Value&, BatchResult result) override {
    state = spec_->reduce(state, result.items);
    return std::string(default_action);
  }

private:
  std::shared_ptr<const MapSpec> spec_;
  std::vector<State> states_; // the batch instance's only
};

NodeFactory make_map(MapSpec spec) {
  if (spec.flows.empty())
    throw Failure(Error{Errc::invalid_flow, "map: no flows to run"});
  if (!spec.reduce)
    throw Failure(Error{Errc::invalid_flow, "map: the reducer is empty"});
  auto shared = std::make_shared<const MapSpec>(std::move(spec));
  return [shared] { return std::make_unique<MapNode>(shared); };
}

// Parameter sets (an array of maps) as copies of `state` with each map's members set.
std::function<std::vector<State>(const State&)>
states_from_params(std::function<Value(const State&)> params) {
  return [params = std::move(params)](const State& state) {
    auto sets = params(state);
    if (!sets.is_array())
      throw Failure(Error{Errc::bad_input, "batch flow: params must be an array of maps, got " +
                                               std::string(to_string(sets.type()))});
    std::vector<State> states;
    states.reserve(sets.size());
    for (std::size_t i = 0; i < sets.size(); ++i) {
      const auto& set = sets.at(i);
      if (!set.is_map())
        throw Failure(Error{Errc::bad_input, "batch flow: parameter set " + std::to_string(i) +
                                                 " is " + std::string(to_string(set.type())) +
                                                 ", not a map"});
      std::vector<std::pair<std::string, Value>> updates(set.as_map().begin(), set.as_map().end());
      states.push_back(state.with(std::move(updates)));
    }
    return states;
  };
}

} // namespace

MapReducer collect_results() {
  return [](const State& state, const std::vector<ItemOutcome>& outcomes) {
    return state.with("results", result_values(outcomes));
  };
}

Flow as_flow(std::string name, NodeFactory node) {
  auto flow = FlowBuilder(name).node(name, std::move(node)).build();
  if (!flow)
    throw Failure(flow.error());
  return std::move(*flow);
}

NodeFactory map_states(Flow flow, std::function<std::vector<State>(const State&)> states,
                       MapReducer reduce, BatchOptions options) {
  if (!states)
    throw Failure(Error{Errc::invalid_flow, "map_states: the states function is empty"});
  return make_map({{std::move(flow)}, std::move(states), std::move(reduce), options});
}

NodeFactory map_actions(std::vector<Flow> flows, MapReducer reduce, BatchOptions options) {
  return make_map({std::move(flows), {}, std::move(reduce), options});
}

NodeFactory map_actions_and_states(std::vector<Flow> flows,
                                   std::function<std::vector<State>(const State&)> states,
                                   MapReducer reduce, BatchOptions options) {
  if (!states)
    throw Failure(
        Error{Errc::invalid_flow, "map_actions_and_states: the states function is empty"});
  return make_map({std::move(flows), std::move(states), std::move(reduce), options});
}

NodeFactory parallel_batch_flow(Flow flow, std::function<Value(const State&)> params,
                                MapReducer reduce, BatchOptions options) {
  if (!params)
    throw Failure(Error{Errc::invalid_flow, "parallel_batch_flow: the params function is empty"});
  return make_map(
      {{std::move(flow)}, states_from_params(std::move(params)), std::move(reduce), options});
}

NodeFactory batch_flow(Flow flow, std::function<Value(const State&)> params, MapReducer reduce) {
  BatchOptions sequential;
  sequential.max_concurrency = 1;
  return parallel_batch_flow(std::move(flow), std::move(params), std::move(reduce), sequential);
}

} // namespace actorflow
