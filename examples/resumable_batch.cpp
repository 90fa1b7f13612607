// A durable batch that survives `kill -9`: every item's outcome is committed to a SQLite
// checkpoint store as it completes, and `Runtime::resume` continues the run in a new process,
// running only the items that have no committed outcome.
//
// By default the example shows it happening: it starts itself as a worker process (--worker),
// kills it with SIGKILL once enough items are done, then resumes the run here and checks that
// every item is in the result exactly once and that the committed items were not run again.
//
// As a worker it prints "pid N", then "done N" lines as items complete, then the final State
// as JSON on one line. Each item's exec appends its index to --calls, so a caller can count
// the calls that were really made (the test in tests/unit/durable does).
//
// Run: build/release/examples/resumable_batch [--items N] [--kill-after K] [--db FILE|URL]
#include <actorflow/actorflow.hpp>
#include <actorflow/checkpoint.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>

using namespace actorflow;

namespace {

// One line per call, written with one write(2) on an O_APPEND file: lines from two processes
// (the killed worker and the resumed run) never interleave.
void log_call(const std::string& calls, std::int64_t index) {
  if (calls.empty())
    return;
  const int fd = ::open(calls.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0)
    throw Failure(Error{Errc::unavailable, "cannot open " + calls});
  const std::string line = std::to_string(index) + "\n";
  const auto written = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size()))
    throw Failure(Error{Errc::unavailable, "cannot write " + calls});
}

// Each item: a model call (the local provider titles a sentence about the item) after a
// short wait that stands for a real model's latency, so that a kill lands mid-batch.
class TitleItems final : public ParallelBatchNode {
public:
  explicit TitleItems(std::string calls)
      : ParallelBatchNode(BatchOptions{.max_concurrency = 32}), calls_(std::move(calls)) {}
  Value prep(const State& state) override { return state.at("items"); }
  Task<Value> exec(Value item, Context& ctx) override {
    const auto index = item.as_int();
    log_call(calls_, index);
    co_await ctx.sleep(std::chrono::milliseconds(2));
    auto reply = co_await ctx.llm().chat(ChatRequest::user(
        "Title: item " + std::to_string(index) + " of the nightly batch, about actors number " +
        std::to_string(index % 97) + " and their messages"));
    co_return reply.value().text;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    state = state.with(
        {{"titles", result_values(std::move(result.items))}, {"failed", result.summary.failed}});
    return std::string(default_action);
  }

private:
  std::string calls_;
};

Result<Flow> batch_flow(const std::string& calls) {
  return FlowBuilder("nightly")
      .node("plan", step_node([](State& state) {
              Array items;
              for (std::int64_t i = 0; i < state.at("count").as_int(); ++i)
                items.emplace_back(i);
              state = state.with("items", std::move(items));
              return std::string(default_action);
            }))
      .node<TitleItems>("titles", calls)
      .edge("plan", "titles")
      .build();
}

struct Options {
  std::string db;
  std::string run_id = "nightly";
  std::string calls;
  std::size_t items = 2000;
  std::size_t kill_after = 600;
  bool worker = false;
  bool resume = false;
};

// The final State without the plan's input list: what an uninterrupted run must match.
std::string result_json(const RunResult& result) {
  return to_json(result.state.without("items").to_value());
}

// --worker: runs (or resumes) the durable batch, reporting as it goes.
int work(const Options& options) {
  auto store = open_checkpoint_store(options.db);
  if (!store) {
    std::cerr << store.error().to_string() << "\n";
    return 1;
  }
  auto flow = batch_flow(options.calls);
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  std::printf("pid %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
  RuntimeConfig config;
  config.checkpoints = *store;
  Runtime runtime{std::move(config)};
  RunOptions run_options{.on_progress = [](const BatchProgress& p) {
    std::printf("done %zu\n", p.done); // one printf: lines from threads do not interleave
    std::fflush(stdout);
  }};
  auto run = options.resume ? runtime.resume(*flow, options.run_id, std::move(run_options))
                            : runtime.run(*flow, State{}.with("count", options.items), [&] {
                                run_options.run_id = options.run_id;
                                return std::move(run_options);
                              }());
  auto result = run.get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  std::printf("%s\n", result_json(*result).c_str());
  return 0;
}

// Lines of the calls file, as call counts per item.
std::map<std::int64_t, int> count_calls(const std::string& calls) {
  std::map<std::int64_t, int> counts;
  std::ifstream in{calls};
  for (std::string line; std::getline(in, line);)
    ++counts[std::stoll(line)];
  return counts;
}

// The default: start a worker, kill it mid-batch, resume here, check.
int demonstrate(const Options& options, const std::string& self) {
  const std::string command = self + " --worker --db '" + options.db + "' --calls '" +
                              options.calls + "' --items " + std::to_string(options.items) +
                              " --run-id " + options.run_id;
  FILE* worker = ::popen(command.c_str(), "r");
  if (worker == nullptr) {
    std::perror("popen");
    return 1;
  }
  long pid = 0;
  std::size_t done = 0;
  char line[256];
  while (std::fgets(line, sizeof line, worker) != nullptr) {
    if (std::sscanf(line, "pid %ld", &pid) == 1)
      continue;
    if (std::sscanf(line, "done %zu", &done) == 1 && done >= options.kill_after && pid > 0) {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      break;
    }
  }
  ::pclose(worker);
  std::printf("worker %ld killed with SIGKILL after %zu of %zu items were done\n", pid, done,
              options.items);

  auto store = open_checkpoint_store(options.db);
  auto committed = store ? (*store)->load_items(options.run_id)
                         : Result<std::unordered_map<std::string, ItemOutcome>>(store.error());
  if (!committed) {
    std::cerr << committed.error().to_string() << "\n";
    return 1;
  }
  std::set<std::int64_t> committed_items;
  for (const auto& [key, outcome] : *committed)
    committed_items.insert(static_cast<std::int64_t>(outcome.index));
  const auto calls_before = count_calls(options.calls);
  std::printf("committed before the kill: %zu items (the worker had started %zu)\n",
              committed_items.size(), calls_before.size());

  auto flow = batch_flow(options.calls);
  RuntimeConfig config;
  config.checkpoints = *store;
  Runtime runtime{std::move(config)};
  auto resumed =
      flow ? runtime.resume(*flow, options.run_id).get() : Result<RunResult>(flow.error());
  // The same batch, uninterrupted, under another run id: what the resumed run must equal.
  auto whole = flow ? runtime
                          .run(*flow, State{}.with("count", options.items),
                               RunOptions{.run_id = options.run_id + "-uninterrupted"})
                          .get()
                    : Result<RunResult>(flow.error());
  if (!resumed || !whole) {
    std::cerr << (resumed ? whole : resumed).error().to_string() << "\n";
    return 1;
  }
  auto calls_after = count_calls(options.calls);
  std::size_t rerun_committed = 0, ran_in_resume = 0;
  for (const auto& [index, count] : calls_after) {
    const int before = calls_before.count(index) ? calls_before.at(index) : 0;
    // The uninterrupted run calls every item once more: subtract it.
    const int in_resume = count - before - 1;
    ran_in_resume += in_resume > 0 ? 1 : 0;
    if (committed_items.count(index) && in_resume > 0)
      ++rerun_committed;
  }
  const auto titles = resumed->state.at("titles").size();
  const bool same = result_json(*resumed) == result_json(*whole);
  std::printf("resumed: %zu items ran again, %zu came from the store; %zu titles in the "
              "result, %lld failed\n",
              ran_in_resume, committed_items.size(), titles,
              static_cast<long long>(resumed->state.at("failed").as_int()));
  std::printf("committed items run again: %zu (must be 0)\n", rerun_committed);
  std::printf("result equals an uninterrupted run's: %s\n", same ? "yes" : "NO");
  const bool ok = same && rerun_committed == 0 && titles == options.items &&
                  !committed_items.empty() && committed_items.size() < options.items;
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"A durable batch killed with SIGKILL and resumed in another process"};
  Options options;
  bool graph = false;
  app.add_option("--items", options.items, "Items in the batch")->capture_default_str();
  app.add_option("--kill-after", options.kill_after, "Kill the worker after this many items")
      ->capture_default_str();
  app.add_option("--db", options.db,
                 "The checkpoint store: an SQLite file (default: a temporary one) or a "
                 "postgresql:// URL");
  app.add_option("--calls", options.calls,
                 "With --worker: the file every item's call is appended to");
  app.add_option("--run-id", options.run_id, "The durable run's id")->capture_default_str();
  app.add_flag("--worker", options.worker, "Run (or --resume) the batch and report progress");
  app.add_flag("--resume", options.resume, "With --worker: resume the run instead");
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);
  if (graph) {
    auto flow = batch_flow(options.calls);
    return flow && examples::graph_printed(graph, *flow) ? 0 : 1;
  }
  if (options.worker)
    return options.db.empty() ? (std::cerr << "--worker needs --db\n", 1) : work(options);

  // Fresh files: a stale store would hold a finished run of the same id.
  const auto dir = std::filesystem::temp_directory_path() /
                   ("actorflow-resumable-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  if (options.db.empty())
    options.db = (dir / "runs.db").string();
  options.calls = (dir / "calls.log").string();
  options.run_id += "-" + std::to_string(::getpid()); // new in a --db given again
  const int code = demonstrate(options, std::filesystem::read_symlink("/proc/self/exe").string());
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return code;
}
