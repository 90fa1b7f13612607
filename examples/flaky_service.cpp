// Supervision at work against a flaky service: retries with backoff and jitter, a Retry-After,
// a fallback when retries run out, and a circuit that opens when the service is down.
// Uses testing::ScriptedModel as the "service" so that the example runs anywhere; the delays
// are real but short (the whole example takes well under a second). Each scenario checks what
// it shows (service calls, fallbacks, failed items, circuit openings): exit code 1 if one does
// not. Run: build/release/examples/flaky_service [--graph]
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <mutex>

using namespace actorflow;
using namespace std::chrono_literals;
using testing::ModelStep;
using testing::ScriptedModel;

namespace {

// Asks the service once per item; when every attempt failed, answers "(unavailable)".
class AskService : public ParallelBatchNode {
public:
  AskService(std::shared_ptr<ScriptedModel> service, RetryPolicy policy, bool fallback)
      : ParallelBatchNode(BatchOptions{.max_concurrency = 1}), service_(std::move(service)),
        fallback_(fallback) {
    set_retry_policy(std::move(policy));
  }
  Value prep(const State& state) override { return state.at("questions"); }
  Task<Value> exec(Value question, Context& ctx) override {
    auto reply = co_await service_->call(ctx);
    if (!reply)
      throw Failure(reply.error());
    std::string line = question.as_string(); // appended: GCC 12 -Wrestrict dislikes a + b + c
    line.append(" -> ").append(reply->as_string());
    co_return line;
  }
  Value exec_fallback(const Value& question, const Error& error) override {
    if (!fallback_)
      return ParallelBatchNode::exec_fallback(question, error); // fail the item
    std::string line = question.as_string();
    return line.append(" -> (unavailable)");
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array lines;
    for (auto& item : result.items)
      lines.push_back(item.ok() ? item.value() : Value(item.error().to_string()));
    state = state.with({{"answers", std::move(lines)},
                        {"retries", result.summary.retries},
                        {"failed", result.summary.failed},
                        {"circuit_opened", result.summary.circuit_opened}});
    return std::string(default_action);
  }

private:
  std::shared_ptr<ScriptedModel> service_;
  bool fallback_;
};

struct Tally {
  std::mutex mutex;
  std::map<std::string, int> counts;
  void operator()(const AttemptEvent& event) {
    std::lock_guard lock{mutex};
    ++counts[std::string(to_string(event.kind))];
    if (event.kind == AttemptEvent::Kind::retry_scheduled)
      std::cout << "  item " << event.item.value_or(0) << " attempt " << event.attempt
                << " failed (" << to_string(event.error.code) << "), retry in "
                << event.delay.count() << " ms\n";
    if (event.kind == AttemptEvent::Kind::circuit_opened)
      std::cout << "  circuit opened after item " << event.item.value_or(0) << "\n";
  }
};

Value questions(int n) {
  Array xs;
  for (int i = 0; i < n; ++i)
    xs.emplace_back(std::string("q").append(std::to_string(i)));
  return xs;
}

// What a scenario shows: the example fails when a run does not show it.
struct Expected {
  std::size_t service_calls;
  int fallbacks;      // items answered "(unavailable)" by exec_fallback
  int failed;         // items that failed (no fallback)
  int circuit_opened; // times the circuit opened
};

// Every scenario's flow: one batch node asking the service once per item.
Result<Flow> ask_flow(std::shared_ptr<ScriptedModel> service, RetryPolicy policy, bool fallback) {
  return FlowBuilder("ask")
      .node<AskService>("ask", std::move(service), std::move(policy), fallback)
      .build();
}

int run_scenario(Runtime& runtime, const std::string& title, std::shared_ptr<ScriptedModel> service,
                 RetryPolicy policy, int items, bool fallback, Expected expected) {
  std::cout << "== " << title << "\n";
  auto flow = ask_flow(service, std::move(policy), fallback);
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  auto tally = std::make_shared<Tally>();
  auto result = runtime
                    .run(*flow, State{}.with("questions", questions(items)),
                         RunOptions{.on_attempt = [tally](const AttemptEvent& e) { (*tally)(e); }})
                    .get();
  if (!result) {
    std::cerr << "run failed: " << result.error().to_string() << "\n";
    return 1;
  }
  const auto& state = result->state;
  for (const auto& line : state.at("answers").as_array())
    std::cout << "  " << line.as_string() << "\n";
  std::lock_guard lock{tally->mutex};
  std::cout << "  service calls: " << service->calls()
            << ", retries: " << state.at("retries").as_int();
  for (const auto& [kind, count] : tally->counts)
    std::cout << ", " << kind << ": " << count;
  std::cout << "\n";
  auto fallbacks = tally->counts[std::string(to_string(AttemptEvent::Kind::fallback_used))];
  Expected seen{.service_calls = service->calls(),
                .fallbacks = fallbacks,
                .failed = static_cast<int>(state.at("failed").as_int()),
                .circuit_opened = static_cast<int>(state.at("circuit_opened").as_int())};
  if (seen.service_calls == expected.service_calls && seen.fallbacks == expected.fallbacks &&
      seen.failed == expected.failed && seen.circuit_opened == expected.circuit_opened)
    return 0;
  std::cerr << "  expected " << expected.service_calls << " service calls, " << expected.fallbacks
            << " fallbacks, " << expected.failed << " failed items and the circuit opened "
            << expected.circuit_opened << " times; saw " << seen.service_calls << ", "
            << seen.fallbacks << ", " << seen.failed << " and " << seen.circuit_opened << "\n";
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Retries, a Retry-After, a fallback and a circuit against a flaky service"};
  bool graph = false;
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);
  // The scenarios differ in their service and policy, not in the flow's shape.
  if (graph) {
    auto flow = ask_flow(std::make_shared<ScriptedModel>(std::deque<ModelStep>{}), {}, true);
    return flow && examples::graph_printed(graph, *flow) ? 0 : 1;
  }

  Runtime runtime;
  RetryPolicy policy;
  policy.max_attempts = 4;
  policy.initial_backoff = 5ms;
  policy.max_backoff = 40ms;
  policy.jitter = Jitter::full;

  // 1. Flaky: two 5xx, a 429 with Retry-After 20 ms, then answers.
  int status = run_scenario(
      runtime, "flaky service: retries with backoff, and a Retry-After",
      std::make_shared<ScriptedModel>(
          std::deque<ModelStep>{ModelStep::server_error(), ModelStep::server_error(),
                                ModelStep::rate_limited(20ms), ModelStep::answer("42")}),
      policy, 3, true,
      {.service_calls = 6, .fallbacks = 0, .failed = 0, .circuit_opened = 0}); // 4 + 1 + 1

  // 2. Down for good: every attempt fails, the fallback answers.
  status |= run_scenario(
      runtime, "service down: retries run out, the fallback answers",
      std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()}), policy, 2,
      true, {.service_calls = 8, .fallbacks = 2, .failed = 0, .circuit_opened = 0});

  // 3. Down, with a circuit and no fallback (a fallback's value counts as a success for the
  //    circuit): after 3 failures within a minute the rest fails fast.
  auto with_circuit = policy;
  with_circuit.max_attempts = 1;
  with_circuit.circuit = CircuitPolicy{.max_failures = 3, .window = 60s, .cool_down = 30s};
  status |= run_scenario(
      runtime, "service down, circuit breaker: the rest fails fast",
      std::make_shared<ScriptedModel>(std::deque<ModelStep>{ModelStep::server_error()}),
      with_circuit, 8, false,
      {.service_calls = 3, .fallbacks = 0, .failed = 8, .circuit_opened = 1});
  return status;
}
