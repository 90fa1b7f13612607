// The `actorflow` command.
#include "bench.hpp"
#include "bench_raw.hpp"
#include "demo.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace {

// An option that shows its default in --help.
template <class T>
CLI::Option* option(CLI::App* cmd, const std::string& name, T& value, const std::string& help) {
  return cmd->add_option(name, value, help)->capture_default_str();
}

// A count that must be at least 1.
template <class T>
CLI::Option* count(CLI::App* cmd, const std::string& name, T& value, const std::string& help) {
  return option(cmd, name, value, help)->check(CLI::PositiveNumber);
}

// CAF's scheduler policy, spelled as in its configuration.
CLI::Option* policy(CLI::App* cmd, std::string& value, const std::string& help) {
  return option(cmd, "--policy", value, help)->check(CLI::IsMember({"stealing", "sharing"}));
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"actorflow: an embeddable actor runtime for LLM workflows"};
  app.require_subcommand(1);

  actorflow::tools::DemoOptions demo;
  auto* demo_cmd = app.add_subcommand(
      "demo", "Run the demo flow: statistics over a folder of text files (offline)");
  option(demo_cmd, "--dir", demo.dir, "Folder of text files to analyse")
      ->check(CLI::ExistingDirectory);
  option(demo_cmd, "--workers", demo.workers, "Scheduler threads (0: one per core)");
  count(demo_cmd, "--max-files", demo.max_files, "Analyse at most this many files");
  demo_cmd->add_flag("--json", demo.json, "Print the final state as JSON instead of a table");

  auto* bench_cmd = app.add_subcommand("bench", "Measure the runtime; prints JSON");
  bench_cmd->require_subcommand(1);
  actorflow::tools::SleepBenchOptions sleep;
  auto* sleep_cmd = bench_cmd->add_subcommand(
      "sleep", "N flows whose node sleeps L ms via co_await: wall time vs the ideal L");
  count(sleep_cmd, "--nodes", sleep.nodes, "Concurrent one-node flows");
  option(sleep_cmd, "--sleep-ms", sleep.sleep_ms, "How long each node sleeps");
  count(sleep_cmd, "--workers", sleep.workers, "Scheduler threads");
  actorflow::tools::StepsBenchOptions steps;
  auto* steps_cmd = bench_cmd->add_subcommand(
      "steps", "One flow through N steps, each a fresh node actor: per-step cost");
  count(steps_cmd, "--steps", steps.steps, "Steps to run");
  count(steps_cmd, "--workers", steps.workers, "Scheduler threads");

  actorflow::tools::RawFanoutOptions raw;
  auto* raw_cmd = bench_cmd->add_subcommand(
      "fanout-raw",
      "Baseline in plain CAF: one actor per item, at most C requests in flight, no runtime");
  count(raw_cmd, "--items", raw.items, "Items, each handled by a fresh actor");
  count(raw_cmd, "--concurrency", raw.concurrency, "Most requests in flight at once");
  count(raw_cmd, "--workers", raw.workers, "Scheduler threads (scheduler.max-threads)");
  policy(raw_cmd, raw.policy, "CAF scheduler: stealing (CAF's default) or sharing");
  option(raw_cmd, "--request-timeout-ms", raw.request_timeout_ms,
         "Per-item request timeout (0: infinite, as the runtime uses)");

  actorflow::tools::FanoutBenchOptions fanout;
  auto* fanout_cmd = bench_cmd->add_subcommand(
      "fanout", "The runtime's fan-out: a ParallelBatchNode with a no-op exec over N items");
  count(fanout_cmd, "--items", fanout.items, "Items, each run by its own item actor");
  count(fanout_cmd, "--concurrency", fanout.concurrency, "Window: items in flight at most");
  count(fanout_cmd, "--workers", fanout.workers, "Scheduler threads");
  fanout_cmd->add_flag("--fold", fanout.fold,
                       "Fold outcomes as they complete (as_completed); keep no per-item results");
  policy(fanout_cmd, fanout.policy, "CAF scheduler: sharing (the runtime's default) or stealing");

  actorflow::tools::LatencyBenchOptions latency;
  auto* latency_cmd = bench_cmd->add_subcommand(
      "latency", "A batch whose exec awaits a timer: wall time vs ceil(N/C) * latency");
  count(latency_cmd, "--items", latency.items, "Items");
  count(latency_cmd, "--concurrency", latency.concurrency, "Window: items in flight at most");
  option(latency_cmd, "--latency-ms", latency.latency_ms, "Each exec's timer");
  count(latency_cmd, "--workers", latency.workers, "Scheduler threads");

  CLI11_PARSE(app, argc, argv);

  if (*demo_cmd)
    return actorflow::tools::run_demo(demo);
  if (*sleep_cmd)
    return actorflow::tools::bench_sleep(sleep);
  if (*steps_cmd)
    return actorflow::tools::bench_steps(steps);
  if (*raw_cmd)
    return actorflow::tools::bench_fanout_raw(raw);
  if (*fanout_cmd)
    return actorflow::tools::bench_fanout(fanout);
  if (*latency_cmd)
    return actorflow::tools::bench_latency(latency);
  return 1;
}
