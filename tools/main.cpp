// The `actorflow` command.
#include "bench.hpp"
#include "bench_raw.hpp"
#include "demo.hpp"
#include "sim.hpp"

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

  actorflow::tools::HttpBenchOptions http;
  auto* http_cmd = bench_cmd->add_subcommand(
      "http", "Chat calls through the openai provider to an `actorflow sim` it starts: wall "
              "time vs ceil(N/C) * latency, client CPU per request");
  count(http_cmd, "--items", http.items, "Items (one chat call each)");
  count(http_cmd, "--concurrency", http.concurrency,
        "Window: calls in flight at most (and the client's connection limit)");
  option(http_cmd, "--latency-ms", http.latency_ms, "The sim's latency per call");
  count(http_cmd, "--workers", http.workers, "Scheduler threads");

  actorflow::tools::RateLimitBenchOptions ratelimit;
  auto* ratelimit_cmd = bench_cmd->add_subcommand(
      "ratelimit", "Chat calls paced by RuntimeConfig::limits[\"openai\"] against an `actorflow "
                   "sim` with the same limits: wall time vs the binding limit's ideal, 429s");
  count(ratelimit_cmd, "--items", ratelimit.items, "Items (one chat call each)");
  option(ratelimit_cmd, "--rpm", ratelimit.rpm, "Requests per minute, client and sim (0: none)");
  option(ratelimit_cmd, "--tpm", ratelimit.tpm,
         "Tokens per minute (prompt + max_tokens), client and sim (0: none)");
  option(ratelimit_cmd, "--latency-ms", ratelimit.latency_ms, "The sim's latency per call");
  count(ratelimit_cmd, "--max-tokens", ratelimit.max_tokens, "max_tokens of each call");
  count(ratelimit_cmd, "--concurrency", ratelimit.concurrency,
        "Window: calls in flight or waiting for a grant at most");
  count(ratelimit_cmd, "--workers", ratelimit.workers, "Scheduler threads");
  ratelimit_cmd->add_flag("--no-settle", ratelimit.no_settle,
                          "Count reservations only, on both sides (Limits::"
                          "settle_with_actual_usage = false, sim --no-settle)");

  actorflow::tools::SimOptions sim;
  auto* sim_cmd = app.add_subcommand(
      "sim", "Serve an OpenAI-compatible API (local model) with latency, limits and faults, "
             "for tests and benchmarks; runs until SIGINT/SIGTERM");
  sim_cmd->footer(
      "Rate limits: --rpm and --tpm are token buckets that start full and refill continuously "
      "at LIMIT/60 per second, up to LIMIT * --burst-s (at least 1). A chat call costs 1 "
      "request and (prompt estimate + max_tokens) tokens; an embedding call, the estimate of "
      "its texts. A call is admitted if the request bucket holds 1 and the token bucket holds "
      "min(cost, capacity); it then takes its whole cost (the token bucket may go negative). "
      "Otherwise it gets 429 with retry-after-ms, retry-after and x-ratelimit-* headers, and "
      "takes nothing. A call answered successfully then settles: the token bucket gets back "
      "its cost minus the tokens it actually used (usage.total_tokens; a debt if it used more; "
      "a refund never fills the bucket past capacity). --no-settle keeps the reservation, as "
      "OpenAI counts max_tokens up front. Failed calls (faults) keep their charge. A call "
      "costing more than --tpm is refused with 400 request_too_large.");
  option(sim_cmd, "--port", sim.port, "TCP port (0: a free one); printed as JSON on start");
  option(sim_cmd, "--bind", sim.bind, "Address to listen on");
  count(sim_cmd, "--threads", sim.threads,
        "Server threads: one per open connection, so more than clients keep open");
  option(sim_cmd, "--latency-ms", sim.latency_ms, "Latency L added to every model call");
  option(sim_cmd, "--latency-dist", sim.latency_dist,
         "fixed (L), uniform (L +- J), normal (mean L, sd J), exponential (mean L)")
      ->check(CLI::IsMember({"fixed", "uniform", "normal", "exponential"}));
  option(sim_cmd, "--latency-jitter-ms", sim.latency_jitter_ms, "Jitter J of --latency-dist");
  option(sim_cmd, "--seed", sim.seed, "Seed of the latency and fault draws");
  option(sim_cmd, "--rpm", sim.requests_per_minute, "Requests per minute (0: no limit)");
  option(sim_cmd, "--tpm", sim.tokens_per_minute,
         "Tokens per minute, prompt + max_tokens (0: no limit)");
  option(sim_cmd, "--burst-s", sim.burst_s, "Bucket capacity, in seconds of the limit")
      ->check(CLI::PositiveNumber);
  sim_cmd->add_flag_callback(
      "--no-settle", [&sim] { sim.settle_tokens = false; },
      "Charge each call its reservation (prompt + max_tokens) only; by default a successful "
      "answer corrects the token bucket by its actual usage");
  option(sim_cmd, "--api-key", sim.api_key,
         "Require Authorization: Bearer KEY (empty: no key needed)");
  option(sim_cmd, "--fault-rate", sim.fault_rate, "Chance that an admitted call fails")
      ->check(CLI::Range(0.0, 1.0));
  option(sim_cmd, "--faults", sim.faults,
         "Fault kinds drawn from (500, drop, malformed, missing, slow); a request header "
         "x-sim-fault: KIND forces one, x-sim-latency-ms: N sets its latency");
  option(sim_cmd, "--slow-ms", sim.slow_ms, "How long the slow fault stalls before answering");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end well (0); any bad option or argument is exit code 1.
    return app.exit(e) == 0 ? 0 : 1;
  }

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
  if (*http_cmd)
    return actorflow::tools::bench_http(http);
  if (*ratelimit_cmd)
    return actorflow::tools::bench_ratelimit(ratelimit);
  if (*sim_cmd)
    return actorflow::tools::run_sim(sim);
  return 1;
}
