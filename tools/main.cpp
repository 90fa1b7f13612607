// The `actorflow` command.
#include "bench.hpp"
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

  CLI11_PARSE(app, argc, argv);

  if (*demo_cmd)
    return actorflow::tools::run_demo(demo);
  if (*sleep_cmd)
    return actorflow::tools::bench_sleep(sleep);
  if (*steps_cmd)
    return actorflow::tools::bench_steps(steps);
  return 1;
}
