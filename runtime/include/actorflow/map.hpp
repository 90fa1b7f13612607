#pragma once
/// Flow-shaped batches, thin front ends on the same fan-out as ParallelBatchNode:
/// PocketFlow's BatchFlow / ParallelBatchFlow and Burr's map_states / map_actions /
/// map_actions_and_states. Each sub-run is a flow run in its own actors on its own copy of the
/// state (States are immutable, so copies are isolated by construction).
///
/// Each sub-run's state travels to its item actor as a Value (a copy of its values): cheap for
/// parameter sets, costly for very large states. The factory makers check their arguments
/// when the flow is built: an empty function or flow list throws `Failure` (invalid_flow).

#include <actorflow/batch.hpp>
#include <actorflow/flow.hpp>
#include <actorflow/node.hpp>

#include <functional>
#include <string>
#include <vector>

namespace actorflow {

/// Folds the sub-runs into the state. `outcomes[i]` belongs to the i-th sub-run in input order;
/// its value (when ok) is that run's final state as a map Value.
using MapReducer =
    std::function<State(const State& state, const std::vector<ItemOutcome>& outcomes)>;

/// The default reducer: the final states (null for failed sub-runs), in order, as an array
/// under "results".
[[nodiscard]] MapReducer collect_results();

/// A one-node flow, so that a single action can stand where a sub-flow is expected.
[[nodiscard]] Flow as_flow(std::string name, NodeFactory node);

/// Burr's MapStates: `flow` over every state `states(state)` returns.
[[nodiscard]] NodeFactory map_states(Flow flow,
                                     std::function<std::vector<State>(const State&)> states,
                                     MapReducer reduce = collect_results(),
                                     BatchOptions options = {});

/// Burr's MapActions: every flow of `flows` over the current state.
[[nodiscard]] NodeFactory map_actions(std::vector<Flow> flows,
                                      MapReducer reduce = collect_results(),
                                      BatchOptions options = {});

/// Burr's MapActionsAndStates: every flow over every state (flow-major order: all states of
/// flows[0], then of flows[1], ...).
[[nodiscard]] NodeFactory
map_actions_and_states(std::vector<Flow> flows,
                       std::function<std::vector<State>(const State&)> states,
                       MapReducer reduce = collect_results(), BatchOptions options = {});

/// PocketFlow's ParallelBatchFlow: `flow` once per parameter set `params(state)` returns (an
/// array of maps), each run on a copy of the state with that map's members set.
[[nodiscard]] NodeFactory parallel_batch_flow(Flow flow, std::function<Value(const State&)> params,
                                              MapReducer reduce = collect_results(),
                                              BatchOptions options = {});

/// PocketFlow's BatchFlow: the same, one parameter set after another.
[[nodiscard]] NodeFactory batch_flow(Flow flow, std::function<Value(const State&)> params,
                                     MapReducer reduce = collect_results());

} // namespace actorflow
