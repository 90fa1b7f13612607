// The `actorflow` command.
#include "bench.hpp"
#include "demo.hpp"
#include "node.hpp"
#include "runs.hpp"
#include "sim/sim.hpp"
#include "ui.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>

namespace {

using namespace actorflow::tools;

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

// What the subcommand given on the command line runs, once everything is parsed.
using Command = std::function<int()>;

// A subcommand of `parent` that, when given, selects `run(options)` as the command.
template <class Options>
CLI::App* command(CLI::App* parent, Command& selected, const std::string& name,
                  const std::string& description, Options& options, int (*run)(const Options&)) {
  auto* cmd = parent->add_subcommand(name, description);
  cmd->callback(
      [&selected, &options, run] { selected = [&options, run] { return run(options); }; });
  return cmd;
}

// --items, --concurrency and --workers: the shape of every batch bench.
template <class Options>
void window_options(CLI::App* cmd, Options& options, const std::string& items_help = "Items",
                    const std::string& concurrency_help = "Window: items in flight at most") {
  count(cmd, "--items", options.items, items_help);
  count(cmd, "--concurrency", options.concurrency, concurrency_help);
  count(cmd, "--workers", options.workers, "Scheduler threads");
}

// An option that takes one of the names in `values` and stores the enum value it names.
// IsMember checks the name (transforms run last-added first); CLI11's own messages for a
// CheckedTransformer print a uint8_t enum's values as characters.
template <class Enum>
CLI::Option* enum_option(CLI::App* cmd, const std::string& name, Enum& value,
                         const std::map<std::string, Enum>& values, const std::string& help) {
  std::string current;
  for (const auto& [text, v] : values)
    if (v == value)
      current = text;
  return cmd->add_option(name, value, help)
      ->transform(CLI::Transformer(values).description(""))
      ->transform(CLI::IsMember(values))
      ->default_str(current);
}

// CAF's scheduler policy, spelled as in its configuration.
void policy_option(CLI::App* cmd, actorflow::SchedulerPolicy& value, const char* help) {
  enum_option(cmd, "--policy", value, scheduler_policies, help);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"actorflow: an embeddable actor runtime for LLM workflows"};
  app.require_subcommand(1);
  Command selected;

  DemoOptions demo;
  auto* demo_cmd = command(
      &app, selected, "demo",
      "Ingest a corpus, summarise every document in parallel, compare with sequential, answer a "
      "question, print a run report (offline on the local provider by default)",
      demo, run_demo);
  std::string corpus_default;
  for (const auto& path : default_corpus())
    (corpus_default += corpus_default.empty() ? "" : " ") += path;
  demo_cmd->add_option("paths", demo.paths, "Folders (read recursively) and text files")
      ->check(CLI::ExistingPath)
      ->default_str(corpus_default);
  option(demo_cmd, "--workers", demo.workers, "Scheduler threads (0: one per core)");
  count(demo_cmd, "--max-files", demo.max_files, "Documents at most (the first by name)");
  count(demo_cmd, "--concurrency", demo.concurrency, "Window of the parallel runs");
  option(demo_cmd, "--query", demo.query, "The question to answer from the chunks");
  option(demo_cmd, "--trace", demo.trace,
         "Write a Chrome trace of every run to this file (Perfetto, chrome://tracing)");
  option(demo_cmd, "--sim-latency-ms", demo.sim_latency_ms,
         "Run against the simulator (`actorflow sim`, in process, on 127.0.0.1) with this "
         "latency per call instead of the local provider; 0: off");
  demo_cmd->add_flag("--json", demo.json, "Print one JSON object instead of tables");

  RunsOptions runs;
  auto* runs_cmd = app.add_subcommand("runs", "The durable runs in a checkpoint store");
  runs_cmd->require_subcommand(1);
  runs_cmd
      ->add_option("--db", runs.db, "The checkpoint store: an SQLite file or a postgresql:// URL")
      ->required();
  auto* list_cmd =
      command(runs_cmd, selected, "list",
              "Every run, newest first: status, position, items, tokens", runs, runs_list);
  list_cmd->add_flag("--json", runs.json, "Print JSON instead of a table");
  auto* show_cmd =
      command(runs_cmd, selected, "show",
              "One run as JSON, with the State of its last committed step", runs, runs_show);
  show_cmd->add_option("run", runs.run_ids, "The run's id")->required()->expected(1);
  auto* interrupts_cmd =
      command(runs_cmd, selected, "interrupts",
              "A run's interrupts, in the order they were raised: status, node, item, question, "
              "answer",
              runs, runs_interrupts);
  interrupts_cmd->add_option("run", runs.run_ids, "The run's id")->required()->expected(1);
  interrupts_cmd->add_flag("--json", runs.json, "Print JSON instead of a table");
  auto* answer_cmd = command(runs_cmd, selected, "answer",
                             "Answer a pending interrupt of a run; resuming the run then goes on "
                             "with the answer",
                             runs, runs_answer);
  answer_cmd->add_option("run", runs.run_ids, "The run's id")
      ->required()
      ->expected(1)
      ->allow_extra_args(false); // leaves the next positionals to `interrupt` and `answer`
  answer_cmd->add_option("interrupt", runs.interrupt_id, "The interrupt's id")->required();
  answer_cmd->add_option("answer", runs.answer, "The answer, as JSON (a string is \"quoted\")")
      ->required();
  auto* delete_cmd = command(runs_cmd, selected, "delete",
                             "Delete runs by id, or those that ended long ago", runs, runs_delete);
  delete_cmd->add_option("runs", runs.run_ids, "Ids of the runs to delete");
  delete_cmd->add_option("--ended-days-ago", runs.ended_days_ago,
                         "Also delete the runs that ended at least this many days ago");

  UiOptions ui_options;
  auto* ui_cmd = command(&app, selected, "ui",
                         "A browser view of the runs in a checkpoint store (read-only): runs, "
                         "flow graphs, items, states, timelines",
                         ui_options, ui);
  ui_cmd
      ->add_option("--db", ui_options.db,
                   "The checkpoint store: an SQLite file or a postgresql:// URL")
      ->required();
  ui_cmd->add_option("--traces", ui_options.traces,
                     "A folder of run traces, <run_id>.json (RuntimeConfig::trace_dir)");
  option(ui_cmd, "--host", ui_options.host,
         "The address to listen on (the viewer has no login: keep it on loopback)");
  option(ui_cmd, "--port", ui_options.port, "The port to listen on; 0: any free port");

  auto* bench_cmd = app.add_subcommand("bench", "Measure the runtime; prints JSON");
  bench_cmd->require_subcommand(1);

  SleepBenchOptions sleep;
  auto* sleep_cmd = command(bench_cmd, selected, "sleep",
                            "N flows whose node sleeps L ms via co_await: wall time vs the ideal L",
                            sleep, bench_sleep);
  count(sleep_cmd, "--nodes", sleep.nodes, "Concurrent one-node flows");
  option(sleep_cmd, "--sleep-ms", sleep.sleep_ms, "How long each node sleeps");
  count(sleep_cmd, "--workers", sleep.workers, "Scheduler threads");

  StepsBenchOptions steps;
  auto* steps_cmd = command(bench_cmd, selected, "steps",
                            "One flow through N steps, each a fresh node actor: per-step cost",
                            steps, bench_steps);
  count(steps_cmd, "--steps", steps.steps, "Steps to run");
  count(steps_cmd, "--workers", steps.workers, "Scheduler threads");

  RawFanoutOptions raw;
  auto* raw_cmd =
      command(bench_cmd, selected, "fanout-raw",
              "Baseline in plain CAF: one actor per item, at most C requests in flight, no runtime",
              raw, bench_fanout_raw);
  window_options(raw_cmd, raw, "Items, each handled by a fresh actor",
                 "Most requests in flight at once");
  policy_option(raw_cmd, raw.policy,
                "CAF's own scheduler policy: sharing (faster here) or stealing");
  option(raw_cmd, "--request-timeout-ms", raw.request_timeout_ms,
         "Per-item request timeout (0: infinite, as the runtime uses)");

  FanoutBenchOptions fanout;
  auto* fanout_cmd =
      command(bench_cmd, selected, "fanout",
              "The runtime's fan-out: a ParallelBatchNode with a no-op exec over N items", fanout,
              bench_fanout);
  window_options(fanout_cmd, fanout, "Items, each run by its own item actor");
  fanout_cmd->add_flag("--fold", fanout.fold,
                       "Fold outcomes as they complete (as_completed); keep no per-item results");
  policy_option(fanout_cmd, fanout.policy,
                "The runtime's scheduler policy: stealing (its default) or sharing");
  option(fanout_cmd, "--exec-cpu-us", fanout.exec_cpu_us,
         "CPU time each exec spends in a busy loop (0: none); ideal_s assumes every worker busy");

  CheckpointBenchOptions checkpoint;
  auto* checkpoint_cmd =
      command(bench_cmd, selected, "checkpoint",
              "The fan-out without and with a checkpoint store, in one run: the store's cost",
              checkpoint, bench_checkpoint);
  window_options(checkpoint_cmd, checkpoint, "Items, each committed to the store");
  checkpoint_cmd->add_option("--db", checkpoint.db,
                             "The store: an SQLite file or a postgresql:// URL (default: a "
                             "temporary SQLite file)");

  ClusterBenchOptions cluster;
  auto* cluster_cmd = command(
      bench_cmd, selected, "cluster",
      "The stock echo batch here only, here and on node processes (loopback), and on the nodes "
      "only: throughput vs local-only, and the overhead of a remote item",
      cluster, bench_cluster);
  window_options(cluster_cmd, cluster);
  count(cluster_cmd, "--nodes", cluster.nodes, "`actorflow node` processes to start");
  count(cluster_cmd, "--node-workers", cluster.node_workers, "Scheduler threads of each node");

  ChaosBenchOptions chaos;
  auto* chaos_cmd = command(
      bench_cmd, selected, "chaos",
      "Chat calls against a sim failing some (429, 500, drops, malformed), over this process and "
      "two node processes, one killed and one stopped (SIGSTOP) and resumed mid-run: items "
      "lost and doubled (both 0), retries, requeues and wall time",
      chaos, bench_chaos);
  count(chaos_cmd, "--items", chaos.items, "Items (chat calls)");
  count(chaos_cmd, "--concurrency", chaos.concurrency, "The batch's window");
  option(chaos_cmd, "--latency-ms", chaos.latency_ms, "The sim's latency per call");
  option(chaos_cmd, "--fault-rate", chaos.fault_rate, "Chance in [0, 1] that a call fails");
  option(chaos_cmd, "--node-silence-ms", chaos.node_silence_ms,
         "How long a node may leave a heartbeat unanswered (ClusterConfig::node_silence)");
  count(chaos_cmd, "--workers", chaos.workers, "Scheduler threads");

  LatencyBenchOptions latency;
  auto* latency_cmd = command(bench_cmd, selected, "latency",
                              "A batch whose exec awaits a timer: wall time vs ceil(N/C) * latency",
                              latency, bench_latency);
  window_options(latency_cmd, latency);
  option(latency_cmd, "--latency-ms", latency.latency_ms, "Each exec's timer");

  HttpBenchOptions http;
  auto* http_cmd = command(bench_cmd, selected, "http",
                           "Chat calls through the openai provider to an `actorflow sim` it "
                           "starts: wall time vs ceil(N/C) * latency, client CPU per request",
                           http, bench_http);
  window_options(http_cmd, http, "Items (one chat call each)",
                 "Window: calls in flight at most (and the client's connection limit)");
  option(http_cmd, "--latency-ms", http.latency_ms, "The sim's latency per call");

  BatchApiBenchOptions batch_api;
  auto* batch_api_cmd = command(
      bench_cmd, selected, "batch-api",
      "The same chat calls online and through the openai_batch provider, against an "
      "`actorflow sim` it starts: cost_ratio (batch over online), sim_requests, peak_rss_kb; "
      "then the batch as a durable run with a journal: durable_cpu_ratio",
      batch_api, bench_batch_api);
  window_options(batch_api_cmd, batch_api, "Items (one chat call each)",
                 "The online run's window (calls in flight)");
  option(batch_api_cmd, "--batch-delay-ms", batch_api.batch_delay_ms,
         "The sim's processing time per batch job");
  count(batch_api_cmd, "--max-requests", batch_api.max_requests, "Calls per batch job at most");

  AgentBenchOptions agent;
  auto* agent_cmd = command(bench_cmd, selected, "agent",
                            "An agent whose every turn calls K tools at once, against an "
                            "`actorflow sim` it starts: wall time vs T * (model + tool latency)",
                            agent, bench_agent);
  count(agent_cmd, "--turns", agent.turns, "Model turns");
  count(agent_cmd, "--tools", agent.tools, "Tools called in each turn, at once");
  option(agent_cmd, "--latency-ms", agent.latency_ms, "Each tool call's wait");
  option(agent_cmd, "--model-latency-ms", agent.model_latency_ms, "The sim's latency per call");
  count(agent_cmd, "--rounds", agent.rounds, "Rounds of no-op tool calls for per_tool_call_us");
  count(agent_cmd, "--workers", agent.workers, "Scheduler threads");

  EventsBenchOptions events;
  auto* events_cmd = command(bench_cmd, selected, "events",
                             "The fan-out with every event streamed to a reader, against the "
                             "same run without one: per-item cost, and the ratio",
                             events, bench_events);
  window_options(events_cmd, events);
  count(events_cmd, "--rounds", events.rounds, "Runs of each side (the best of each counts)");

  OtlpBenchOptions otlp;
  auto* otlp_cmd = command(bench_cmd, selected, "otlp",
                           "The fan-out exporting its spans (OTLP/HTTP) to a loopback collector, "
                           "and to one that never answers, against the same run without export",
                           otlp, bench_otlp);
  window_options(otlp_cmd, otlp);
  count(otlp_cmd, "--rounds", otlp.rounds, "Runs of each side (the best of each counts)");
  count(otlp_cmd, "--max-queue", otlp.max_queue, "The exporter's queue (spans)");
  count(otlp_cmd, "--shutdown-timeout-ms", otlp.shutdown_timeout_ms,
        "How long a shutdown waits for a collector that never answers");

  RateLimitBenchOptions ratelimit;
  auto* ratelimit_cmd = command(
      bench_cmd, selected, "ratelimit",
      "Chat calls paced by RuntimeConfig::limits[\"openai\"] against an `actorflow sim` with the "
      "same limits: wall time vs the binding limit's ideal, 429s",
      ratelimit, bench_ratelimit);
  window_options(ratelimit_cmd, ratelimit, "Items (one chat call each)",
                 "Window: calls in flight or waiting for a grant at most");
  option(ratelimit_cmd, "--rpm", ratelimit.rpm, "Requests per minute, client and sim (0: none)");
  option(ratelimit_cmd, "--tpm", ratelimit.tpm,
         "Tokens per minute (prompt + max_tokens), client and sim (0: none)");
  option(ratelimit_cmd, "--latency-ms", ratelimit.latency_ms, "The sim's latency per call");
  count(ratelimit_cmd, "--max-tokens", ratelimit.max_tokens, "max_tokens of each call");
  ratelimit_cmd->add_flag("--no-settle", ratelimit.no_settle,
                          "Count reservations only, on both sides (Limits::"
                          "settle_with_actual_usage = false, sim --no-settle)");

  // The sim's options are only parsed here: SimServer::start checks them, for the command
  // line and for programs that embed the server alike.
  SimOptions sim;
  auto* sim_cmd = command(&app, selected, "sim",
                          "Serve an OpenAI-compatible API (local model) with latency, limits and "
                          "faults, for tests and benchmarks; runs until SIGINT/SIGTERM",
                          sim, run_sim);
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
      "costing more than --tpm is refused with 400 request_too_large.\n\n"
      "Batch API (/v1/files, /v1/batches, in memory): a job of N lines answers line i at "
      "created + --batch-delay-ms * (i+1)/N, as the online endpoint would but outside the rate "
      "limits, then completes. A line fails with 500 at --batch-line-fault-rate (drawn from "
      "--seed in input order), or with 400 when its body holds SIM_FAIL_LINE. A job unfinished "
      "after --batch-expire-ms expires; one whose reserved tokens would put the unfinished jobs "
      "over --batch-enqueued-tokens fails at creation.");
  option(sim_cmd, "--port", sim.port, "TCP port (0: a free one); printed as JSON on start");
  option(sim_cmd, "--bind", sim.bind, "Address to listen on");
  option(sim_cmd, "--threads", sim.threads,
         "Server threads (at least 1): one per open connection, so more than clients keep open");
  option(sim_cmd, "--latency-ms", sim.latency_ms, "Latency L added to every model call");
  option(sim_cmd, "--latency-dist", sim.latency_dist,
         "fixed (L), uniform (L +- J), normal (mean L, sd J), exponential (mean L)");
  option(sim_cmd, "--latency-jitter-ms", sim.latency_jitter_ms, "Jitter J of --latency-dist");
  option(sim_cmd, "--seed", sim.seed, "Seed of the latency and fault draws");
  option(sim_cmd, "--rpm", sim.requests_per_minute, "Requests per minute (0: no limit)");
  option(sim_cmd, "--tpm", sim.tokens_per_minute,
         "Tokens per minute, prompt + max_tokens (0: no limit)");
  option(sim_cmd, "--burst-s", sim.burst_s, "Bucket capacity, in seconds of the limit (> 0)");
  sim_cmd->add_flag_callback(
      "--no-settle", [&sim] { sim.settle_tokens = false; },
      "Charge each call its reservation (prompt + max_tokens) only; by default a successful "
      "answer corrects the token bucket by its actual usage");
  option(sim_cmd, "--api-key", sim.api_key,
         "Require Authorization: Bearer KEY (empty: no key needed)");
  option(sim_cmd, "--fault-rate", sim.fault_rate, "Chance in [0, 1] that an admitted call fails");
  option(sim_cmd, "--faults", sim.faults,
         "Fault kinds drawn from (500, drop, malformed, missing, slow, bad_tool_args, "
         "bad_json, 429); a request header x-sim-fault: KIND forces one, x-sim-latency-ms: N sets "
         "its latency");
  option(sim_cmd, "--slow-ms", sim.slow_ms, "How long the slow fault stalls before answering");
  option(sim_cmd, "--batch-delay-ms", sim.batch_delay_ms,
         "How long a batch job takes: its lines are answered evenly over this long");
  option(sim_cmd, "--batch-line-fault-rate", sim.batch_line_fault_rate,
         "Chance in [0, 1] that a batch line fails with 500");
  option(sim_cmd, "--batch-expire-ms", sim.batch_expire_ms,
         "A batch job unfinished this long after creation expires (0: never)");
  option(sim_cmd, "--batch-expire-jobs", sim.batch_expire_jobs,
         "Only the first N batch jobs expire (0: every one), so resubmissions complete");
  option(sim_cmd, "--batch-enqueued-tokens", sim.batch_enqueued_tokens,
         "Reserved tokens of unfinished batch jobs at most (0: no limit)");
  option(sim_cmd, "--batch-fail-uploads", sim.batch_fail_uploads,
         "The first N batch file uploads answer 503 (for clients' retries)");
  option(sim_cmd, "--batch-lose-creates", sim.batch_lose_creates,
         "The first N batch creates make the job but answer 503, as a lost answer would");
  sim_cmd->add_flag(
      "--batch-fail-late", sim.batch_fail_late,
      "A refused batch job's create answers \"validating\"; retrieve shows it failed");

  NodeOptions node;
  auto* node_cmd = command(&app, selected, "node",
                           "Run batch items for other runtimes (a cluster node): the stock node "
                           "types (echo, square, sleep, summarise); model calls go to "
                           "OPENAI_BASE_URL's server when it is set, else to the local model",
                           node, run_node);
  node_cmd->footer("Prints {\"listening\": \"HOST:PORT\", ...} once it listens; stops on SIGINT or "
                   "SIGTERM. Off loopback it needs TLS (--cert, --key, --ca: peers must present a "
                   "certificate the CA signed) unless --insecure is given.");
  option(node_cmd, "--port", node.port, "TCP port (0: a free one)");
  option(node_cmd, "--bind", node.bind, "Address to listen on");
  option(node_cmd, "--workers", node.workers, "Scheduler threads (0: one per core, at least 2)");
  option(node_cmd, "--capacity", node.capacity,
         "Items it runs at once, as it tells the runtimes (0: 64 per worker)");
  node_cmd->add_option("--cert", node.certificate, "TLS: this node's certificate (PEM)")
      ->check(CLI::ExistingFile);
  node_cmd->add_option("--key", node.key, "TLS: its private key (PEM)")->check(CLI::ExistingFile);
  node_cmd->add_option("--ca", node.ca, "TLS: the CA that signs every peer's certificate (PEM)")
      ->check(CLI::ExistingFile);
  node_cmd->add_flag("--insecure", node.insecure,
                     "Allow a plain (unencrypted, unauthenticated) listener off loopback");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end well (0); any bad option or argument is exit code 1.
    return app.exit(e) == 0 ? 0 : 1;
  }
  return selected ? selected() : 1;
}
