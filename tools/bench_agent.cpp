// `actorflow bench agent`: one agent against an `actorflow sim` it starts, every turn calling
// K tools of L ms each at once: wall time against the ideal T * (model latency + L). Then the
// runtime's own cost of a tool call: rounds of K no-op calls through run_tool_calls, each call
// a one-node sub-flow in its own actor.
#include <actorflow/actorflow.hpp>
#include <actorflow/openai.hpp>

#include "bench.hpp"
#include "bench_common.hpp"

namespace actorflow::tools {

namespace {

int fail(const Error& error) { return bench_failed("agent", error); }

/// K tools that each wait `latency` on the runtime's clock and answer their name.
ToolBox sleeping_tools(std::size_t k, std::chrono::milliseconds latency) {
  std::vector<Tool> tools;
  for (std::size_t i = 0; i < k; ++i) {
    Tool t{std::string("tool_").append(std::to_string(i)), "waits",
           Value::object({{"type", "object"}})};
    t.handler = [latency, name = t.name](Value, Context& ctx) -> Task<Value> {
      if (latency.count() > 0)
        co_await ctx.sleep(latency);
      co_return Value(name);
    };
    tools.push_back(std::move(t));
  }
  return ToolBox(std::move(tools));
}

/// A prompt that names every tool, so that the model calls them all in each turn.
std::string naming(std::size_t k) {
  std::string prompt = "Call";
  for (std::size_t i = 0; i < k; ++i)
    prompt.append(" tool_").append(std::to_string(i)).append(i + 1 < k ? "," : "."); // -Wrestrict
  return prompt;
}

/// Seconds per tool call of `rounds` rounds of `k` no-op calls, from one node.
Result<double> tool_call_cost(std::size_t rounds, std::size_t k, std::size_t workers) {
  auto tools = sleeping_tools(k, std::chrono::milliseconds(0));
  std::vector<ToolCall> calls;
  for (std::size_t i = 0; i < k; ++i)
    calls.push_back({std::string("c").append(std::to_string(i)),
                     std::string("tool_").append(std::to_string(i)), "{}"});
  auto node = lambda_node({.prep = {},
                           .exec = [tools, calls, rounds](Value, Context& ctx) -> Task<Value> {
                             std::int64_t answered = 0;
                             for (std::size_t r = 0; r < rounds; ++r)
                               for (const auto& m : co_await run_tool_calls(ctx, tools, calls))
                                 answered += m.content.starts_with("tool_") ? 1 : 0;
                             co_return Value(answered);
                           },
                           .post =
                               [](State& s, const Value&, const Value& v) {
                                 s = s.with("answered", v);
                                 return std::string(default_action);
                               }});
  auto flow = FlowBuilder("tool-calls").node("calls", node).build();
  if (!flow)
    return flow.error();
  Runtime runtime{RuntimeConfig{.worker_threads = workers}};
  auto [result, wall_s] = timed_run(runtime, *flow);
  if (!result)
    return result.error();
  if (result->state.at("answered").as_int() != static_cast<std::int64_t>(rounds * k))
    return Error{Errc::internal, "some no-op tool calls did not answer"};
  return wall_s / static_cast<double>(rounds * k);
}

} // namespace

int bench_agent(const AgentBenchOptions& options) {
  auto sim = start_bench_sim(options.tools + 4,
                             {"--latency-ms", std::to_string(options.model_latency_ms)});
  if (!sim)
    return fail(sim.error());
  RuntimeConfig config{.worker_threads = options.workers};
  config.models.add(std::string(bench_provider), std::make_shared<OpenAiProvider>(sim->openai));
  Runtime runtime{std::move(config)};

  AgentOptions agent;
  agent.tools = sleeping_tools(options.tools, std::chrono::milliseconds(options.latency_ms));
  agent.max_turns = static_cast<std::uint32_t>(options.turns);
  agent.tool_choice = ToolChoice::required(); // every turn calls the tools
  auto flow = FlowBuilder("bench-agent").node("agent", agent_node(agent)).build();
  if (!flow)
    return fail(flow.error());
  auto t0 = BenchClock::now();
  auto result = runtime.run(*flow, State{}.with("prompt", naming(options.tools))).get();
  auto wall_s = seconds_since(t0);
  if (!result)
    return fail(result.error());
  const auto& report = result->state.at("agent");
  auto ideal_s = static_cast<double>(options.turns) *
                 static_cast<double>(options.model_latency_ms + options.latency_ms) / 1000.0;

  auto per_call = tool_call_cost(options.rounds, options.tools, options.workers);
  if (!per_call)
    return fail(per_call.error());

  bool ok =
      report.at("turns").as_int() == static_cast<std::int64_t>(options.turns) &&
      report.at("tool_calls").as_int() == static_cast<std::int64_t>(options.turns * options.tools);
  Map out{{"scenario", "agent"},
          {"turns", static_cast<std::int64_t>(options.turns)},
          {"tools_per_turn", static_cast<std::int64_t>(options.tools)},
          {"tool_latency_ms", static_cast<std::int64_t>(options.latency_ms)},
          {"model_latency_ms", static_cast<std::int64_t>(options.model_latency_ms)},
          {"wall_s", wall_s},
          {"ideal_s", ideal_s},
          {"ratio", wall_s / ideal_s},
          {"tool_calls", report.at("tool_calls")},
          {"model_calls", static_cast<std::int64_t>(result->usage.calls)},
          {"per_tool_call_us", *per_call * 1e6},
          {"per_tool_call_rounds", static_cast<std::int64_t>(options.rounds)},
          {"workers", static_cast<std::int64_t>(options.workers)},
          {"ok", ok}};
  return print_report(Value(std::move(out)), ok);
}

} // namespace actorflow::tools
