// The `actorflow` command.
#include "bench.hpp"
#include "bench_raw.hpp"
#include "demo.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"actorflow: an embeddable actor runtime for LLM workflows"};
  app.require_subcommand(1);

  actorflow::tools::DemoOptions demo;
  auto* demo_cmd = app.add_subcommand(
      "demo", "Run the demo flow: statistics over a folder of text files (offline)");
  demo_cmd->add_option("--dir", demo.dir, "Folder of text files to analyse")
      ->capture_default_str()
      ->check(CLI::ExistingDirectory);
  demo_cmd->add_option("--workers", demo.workers, "Scheduler threads (0: one per core)")
      ->capture_default_str();
  demo_cmd->add_option("--max-files", demo.max_files, "Analyse at most this many files")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  demo_cmd->add_flag("--json", demo.json, "Print the final state as JSON instead of a table");

  auto* bench_cmd = app.add_subcommand("bench", "Measure the runtime; prints JSON");
  bench_cmd->require_subcommand(1);
  actorflow::tools::SleepBenchOptions sleep;
  auto* sleep_cmd = bench_cmd->add_subcommand(
      "sleep", "N flows whose node sleeps L ms via co_await: wall time vs the ideal L");
  sleep_cmd->add_option("--nodes", sleep.nodes, "Concurrent one-node flows")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sleep_cmd->add_option("--sleep-ms", sleep.sleep_ms, "How long each node sleeps")
      ->capture_default_str();
  sleep_cmd->add_option("--workers", sleep.workers, "Scheduler threads")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  actorflow::tools::StepsBenchOptions steps;
  auto* steps_cmd = bench_cmd->add_subcommand(
      "steps", "One flow through N steps, each a fresh node actor: per-step cost");
  steps_cmd->add_option("--steps", steps.steps, "Steps to run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  steps_cmd->add_option("--workers", steps.workers, "Scheduler threads")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  actorflow::tools::RawFanoutOptions raw;
  auto* raw_cmd = bench_cmd->add_subcommand(
      "fanout-raw",
      "Baseline in plain CAF: one actor per item, at most C requests in flight, no runtime");
  raw_cmd->add_option("--items", raw.items, "Items, each handled by a fresh actor")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  raw_cmd->add_option("--concurrency", raw.concurrency, "Most requests in flight at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  raw_cmd->add_option("--workers", raw.workers, "Scheduler threads (scheduler.max-threads)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  raw_cmd->add_option("--policy", raw.policy, "CAF scheduler: stealing (CAF's default) or sharing")
      ->capture_default_str()
      ->check(CLI::IsMember({"stealing", "sharing"}));
  raw_cmd->add_option("--request-timeout-ms", raw.request_timeout_ms,
                      "Per-item request timeout (0: infinite, as the runtime uses)")
      ->capture_default_str();

  actorflow::tools::FanoutBenchOptions fanout;
  auto* fanout_cmd = bench_cmd->add_subcommand(
      "fanout", "The runtime's fan-out: a ParallelBatchNode with a no-op exec over N items");
  fanout_cmd->add_option("--items", fanout.items, "Items, each run by its own item actor")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fanout_cmd->add_option("--concurrency", fanout.concurrency, "Window: items in flight at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fanout_cmd->add_option("--workers", fanout.workers, "Scheduler threads")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fanout_cmd->add_flag("--fold", fanout.fold,
                       "Fold outcomes as they complete (as_completed); keep no per-item results");
  fanout_cmd->add_flag("--stealing", fanout.stealing,
                       "Use CAF's work-stealing scheduler instead of the runtime's default (sharing)");

  actorflow::tools::LatencyBenchOptions latency;
  auto* latency_cmd = bench_cmd->add_subcommand(
      "latency", "A batch whose exec awaits a timer: wall time vs ceil(N/C) * latency");
  latency_cmd->add_option("--items", latency.items, "Items")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  latency_cmd->add_option("--concurrency", latency.concurrency, "Window: items in flight at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  latency_cmd->add_option("--latency-ms", latency.latency_ms, "Each exec's timer")
      ->capture_default_str();
  latency_cmd->add_option("--workers", latency.workers, "Scheduler threads")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

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
