// Durable runs: step and item checkpoints, resume in this process and after kill -9 in
// another (given only the store's path or URL), and the errors a store or a resume can give.
// Runs and resumes are tested on each store, SQLite and PostgreSQL (support/each_store.hpp).
#include <actorflow/checkpoint.hpp>

#include "subprocess.hpp" // tools/
#include "support/each_store.hpp"
#include "support/forwarding_store.hpp"
#include "support/test_support.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;
using actorflow::tools::Subprocess;

namespace {

// Counts exec calls per item; an item listed in `hold` waits (without a thread) until released,
// so a test can cancel a batch while those items are in flight.
struct Calls {
  std::mutex mutex;
  std::map<std::int64_t, int> per_item;
  std::atomic<std::size_t> total{0};

  void add(std::int64_t item) {
    std::lock_guard lock{mutex};
    ++per_item[item];
    ++total;
  }
  int of(std::int64_t item) {
    std::lock_guard lock{mutex};
    auto it = per_item.find(item);
    return it == per_item.end() ? 0 : it->second;
  }
};

class Squares final : public ParallelBatchNode {
public:
  Squares(std::shared_ptr<Calls> calls, std::int64_t stall_from)
      : ParallelBatchNode(BatchOptions{.max_concurrency = 4}), calls_(std::move(calls)),
        stall_from_(stall_from) {}
  Value prep(const State& state) override { return state.at("items"); }
  Task<Value> exec(Value item, Context& ctx) override {
    const auto i = item.as_int();
    calls_->add(i);
    if (i >= stall_from_)
      co_await ctx.sleep(1h); // never ends on its own: the run is cancelled meanwhile
    if (i % 10 == 7)
      throw Failure(Error{Errc::bad_input, "item " + std::to_string(i) + " is broken"});
    co_return i* i;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    std::int64_t sum = 0, failed = 0;
    for (const auto& outcome : result.items) {
      if (outcome.ok())
        sum += outcome.value().as_int();
      else
        ++failed;
    }
    state = state.with({{"sum", sum}, {"failed", failed}, {"seen", result.items.size()}});
    return std::string(default_action);
  }

private:
  std::shared_ptr<Calls> calls_;
  std::int64_t stall_from_;
};

Flow squares_flow(std::shared_ptr<Calls> calls, std::int64_t stall_from) {
  return must(
      FlowBuilder("squares")
          .node("plan", step_node([](State& state) {
                  Array items;
                  for (std::int64_t i = 0; i < 40; ++i)
                    items.emplace_back(i);
                  state = state.with("items", std::move(items));
                  return std::string(default_action);
                }))
          .node("squares",
                [calls, stall_from] { return std::make_unique<Squares>(calls, stall_from); })
          .node("done", step_node([](State& state) {
                  state = state.with("finished", true);
                  return std::string(default_action);
                }))
          .edge("plan", "squares")
          .edge("squares", "done")
          .build());
}

RuntimeConfig with_store(const CheckpointStorePtr& store) {
  auto config = two_workers();
  config.checkpoints = store;
  return config;
}

// 0..39 squared, without the broken items (i % 10 == 7).
std::int64_t expected_sum() {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < 40; ++i)
    if (i % 10 != 7)
      sum += i * i;
  return sum;
}

} // namespace

TEST_CASE_TEMPLATE(
    "a durable run commits its steps and items, and resuming a finished run runs nothing", Backend,
    OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  auto store = must(open_checkpoint_store(where->location()));
  auto calls = std::make_shared<Calls>();
  Runtime runtime{with_store(store)};
  auto result = must(runtime.run(squares_flow(calls, 1000), {}, RunOptions{.run_id = "a"}).get());
  CHECK(result.state.at("sum").as_int() == expected_sum());
  CHECK(calls->total == 40);

  auto runs = must(store->list_runs());
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == RunStatus::succeeded);
  CHECK(runs[0].steps == 3);
  CHECK(runs[0].last_node == "done");
  CHECK(runs[0].items_done == 40);
  CHECK(runs[0].items_failed == 4);

  auto again = must(runtime.resume(squares_flow(calls, 1000), "a").get());
  CHECK(calls->total == 40); // nothing ran
  CHECK(again.state == result.state);
}

TEST_CASE_TEMPLATE(
    "resume after a cancel mid-batch: committed items do not run again, every item once", Backend,
    OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  auto store = must(open_checkpoint_store(where->location()));
  auto calls = std::make_shared<Calls>();
  {
    // Items from 20 on stall: the first 20 settle (and are committed), then the run is
    // cancelled while items 20.. are in flight.
    Runtime runtime{with_store(store)};
    std::atomic<std::size_t> done{0};
    auto run = runtime.run(
        squares_flow(calls, 20), {},
        RunOptions{.on_progress = [&](const BatchProgress& p) { done = p.done; }, .run_id = "b"});
    REQUIRE(eventually([&] { return done.load() >= 20; }));
    run.cancel();
    CHECK_FALSE(run.get().ok());
  }
  auto record = must(store->load_run("b")).record;
  CHECK(record.status == RunStatus::cancelled);
  CHECK(record.next_node == "squares"); // "plan" was committed, the batch was not
  auto committed = must(store->load_items("b"));
  CHECK(committed.size() == 20);

  auto resumed_calls = std::make_shared<Calls>();
  Runtime runtime{with_store(store)};
  auto result = must(runtime.resume(squares_flow(resumed_calls, 1000), "b").get());
  for (std::int64_t i = 0; i < 20; ++i)
    CHECK_MESSAGE(resumed_calls->of(i) == 0, "item " << i << " was committed and ran again");
  for (std::int64_t i = 20; i < 40; ++i)
    CHECK(resumed_calls->of(i) == 1);
  CHECK(result.state.at("seen").as_int() == 40);
  CHECK(result.state.at("sum").as_int() == expected_sum());
  CHECK(result.state.at("failed").as_int() == 4);
  CHECK(result.state.at("finished").as_bool());
  CHECK(must(store->load_run("b")).record.status == RunStatus::succeeded);
}

TEST_CASE("durable runs: clear errors for a missing store, a reused id, an unknown run, "
          "another flow") {
  auto calls = std::make_shared<Calls>();
  {
    Runtime runtime{two_workers()};
    auto no_store = runtime.run(squares_flow(calls, 1000), {}, RunOptions{.run_id = "x"}).get();
    REQUIRE_FALSE(no_store.ok());
    CHECK(contains(no_store.error().message, "checkpoint store"));
    auto no_store_resume = runtime.resume(squares_flow(calls, 1000), "x").get();
    REQUIRE_FALSE(no_store_resume.ok());
    CHECK(contains(no_store_resume.error().message, "no checkpoint store"));
  }
  TempDir dir;
  auto store = must(open_checkpoint_store((dir.path() / "runs.db").string()));
  Runtime runtime{with_store(store)};
  must(runtime.run(squares_flow(calls, 1000), {}, RunOptions{.run_id = "c"}).get());
  auto reused = runtime.run(squares_flow(calls, 1000), {}, RunOptions{.run_id = "c"}).get();
  REQUIRE_FALSE(reused.ok());
  CHECK(reused.error().code == Errc::bad_input);
  CHECK(contains(reused.error().message, "'c'"));

  auto unknown = runtime.resume(squares_flow(calls, 1000), "nope").get();
  REQUIRE_FALSE(unknown.ok());
  CHECK(contains(unknown.error().message, "'nope'"));

  auto other = must(FlowBuilder("other")
                        .node("n", step_node([](State&) { return std::string(default_action); }))
                        .build());
  auto wrong_flow = runtime.resume(other, "c").get();
  REQUIRE_FALSE(wrong_flow.ok());
  CHECK(contains(wrong_flow.error().message, "flow 'squares', not of 'other'"));
}

namespace {

// A store whose item commits fail: the run must fail with that error, not lose it.
class FailingItemsStore final : public ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  Result<void> commit_items(std::string_view, const std::vector<ItemCheckpoint>&,
                            double = 0) override {
    return Error{Errc::unavailable, "disk full (simulated)"};
  }
};

} // namespace

TEST_CASE("a failed item commit fails the run, naming the checkpoint, and is recorded") {
  TempDir dir;
  auto inner = must(open_checkpoint_store((dir.path() / "runs.db").string()));
  auto calls = std::make_shared<Calls>();
  Runtime runtime{with_store(std::make_shared<FailingItemsStore>(inner))};
  auto result = runtime.run(squares_flow(calls, 1000), {}, RunOptions{.run_id = "d"}).get();
  REQUIRE_FALSE(result.ok());
  CHECK(contains(result.error().message, "checkpoint"));
  CHECK(contains(result.error().message, "disk full (simulated)"));
  CHECK(must(inner->load_run("d")).record.status == RunStatus::failed);
}

namespace {

// Runs a child process to its end, each line of its stdout to `on_line`; it must exit with 0.
template <class OnLine>
void run_child(std::vector<std::string> args, OnLine on_line) {
  auto child = must(Subprocess::start(std::move(args)));
  while (auto line = child.read_line(120s))
    on_line(*line);
  int status = 0;
  REQUIRE(child.wait_exit(30s, &status));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

} // namespace

#ifdef RESUMABLE_BATCH
namespace {

// Reads the worker's lines until `stop(line)` says so; false if its output ended first.
template <class Stop>
bool read_until(Subprocess& worker, Stop stop) {
  while (auto line = worker.read_line(60s))
    if (stop(*line))
      return true;
  return false;
}

std::map<std::int64_t, int> count_calls(const std::filesystem::path& calls) {
  std::map<std::int64_t, int> counts;
  std::ifstream in{calls};
  for (std::string line; std::getline(in, line);)
    ++counts[std::stoll(line)];
  return counts;
}

// Runs a worker to its end; its last line (the final State as JSON).
std::string run_worker(std::vector<std::string> args) {
  std::string last;
  run_child(std::move(args), [&](const std::string& line) { last = line; });
  return last;
}

} // namespace

TEST_CASE_TEMPLATE(
    "kill -9 mid-batch, resume in a new process: every item once, committed items not "
    "run again, the same final State as an uninterrupted run",
    Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  TempDir dir;
  const std::string db = where->location(); // all the new process is given
  const auto calls = dir.path() / "calls.log";
  const std::vector<std::string> base{RESUMABLE_BATCH, "--worker", "--db", db, "--items", "5000"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  auto worker = must(Subprocess::start(with({"--calls", calls.string(), "--run-id", "k"})));
  REQUIRE(read_until(worker, [](const std::string& line) {
    return line.rfind("done ", 0) == 0 && std::stoul(line.substr(5)) >= 2000;
  }));
  worker.signal(SIGKILL);
  REQUIRE(worker.wait_exit(30s));

  auto store = must(open_checkpoint_store(db));
  std::set<std::int64_t> committed;
  for (const auto& [key, outcome] : must(store->load_items("k")))
    committed.insert(static_cast<std::int64_t>(outcome.index));
  REQUIRE(committed.size() >= 1000); // most of the 2000 done had been written
  REQUIRE(committed.size() < 5000);
  CHECK(must(store->load_run("k")).record.status == RunStatus::running); // it never ended
  const auto before = count_calls(calls);
  for (auto index : committed)
    REQUIRE(before.count(index) == 1); // committed after its call

  const auto resumed = run_worker(with({"--calls", calls.string(), "--run-id", "k", "--resume"}));
  const auto after = count_calls(calls);
  // Committed items ran once, before the kill. Items called but not committed (the call
  // happened, the commit did not) ran again: at-least-once for calls. The rest ran once.
  std::size_t committed_rerun = 0, uncommitted_not_rerun = 0, missing = 0, called_uncommitted = 0;
  for (std::int64_t i = 0; i < 5000; ++i) {
    const int calls_before = before.count(i) ? before.at(i) : 0;
    const int calls_after = after.count(i) ? after.at(i) : 0;
    if (committed.count(i) && calls_after != calls_before)
      ++committed_rerun;
    if (!committed.count(i) && calls_before > 0) {
      ++called_uncommitted;
      if (calls_after != calls_before + 1)
        ++uncommitted_not_rerun;
    }
    if (calls_after == 0)
      ++missing;
  }
  CHECK(committed_rerun == 0);
  CHECK(uncommitted_not_rerun == 0);
  CHECK(called_uncommitted > 0); // the kill did land between some calls and their commits
  CHECK(missing == 0);

  auto state = nlohmann::json::parse(resumed);
  REQUIRE(state["titles"].size() == 5000);
  for (const auto& title : state["titles"])
    REQUIRE(title.is_string());
  CHECK(state["failed"] == 0);
  CHECK(must(store->load_run("k")).record.status == RunStatus::succeeded);

  const auto whole =
      run_worker(with({"--calls", (dir.path() / "calls-whole.log").string(), "--run-id", "whole"}));
  CHECK(resumed == whole);
}
#endif

#ifdef RESUME_AFTER_APPROVAL
namespace {

// The lines "<key>: <value>" a run of the example printed, by key.
std::map<std::string, std::string> example_run(std::vector<std::string> args) {
  std::map<std::string, std::string> lines;
  run_child(std::move(args), [&](const std::string& line) {
    if (auto colon = line.find(": "); colon != std::string::npos)
      lines[line.substr(0, colon)] = line.substr(colon + 2);
  });
  return lines;
}

} // namespace

TEST_CASE_TEMPLATE(
    "interrupts across processes: the first exits while two items wait, a second answers "
    "in the store and resumes, each answer delivered once, committed items not run",
    Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  const std::string db = where->location();
  auto first = example_run({RESUME_AFTER_APPROVAL, "--db", db});
  CHECK(first["items settled"] == "4");
  CHECK(first["pending"] == "2");
  auto store = must(open_checkpoint_store(db));
  auto record = must(store->load_run("publish-1")).record;
  CHECK(record.status == RunStatus::interrupted);
  CHECK(record.pending_interrupts == 2);
  CHECK(record.items_done == 4);

  auto second = example_run({RESUME_AFTER_APPROVAL, "--db", db, "--answer", "yes"});
  CHECK(second["answered"] == "2");
  CHECK(second["items run again"] == "2 of 6"); // the four committed ones did not run
  CHECK(second["asked again"] == "0");          // each interrupt got its recorded answer
  record = must(store->load_run("publish-1")).record;
  CHECK(record.status == RunStatus::succeeded);
  CHECK(record.pending_interrupts == 0);
  for (const auto& interrupt : must(store->load_interrupts("publish-1"))) {
    CHECK(interrupt.status == InterruptStatus::answered);
    CHECK(interrupt.answer == Value("yes"));
  }
  // A third process finds nothing left to answer, and the run finished.
  auto third = example_run({RESUME_AFTER_APPROVAL, "--db", db, "--answer", "no"});
  CHECK(third["answered"] == "0");
}
#endif
