// `actorflow bench chaos`: one batch of chat calls against an `actorflow sim` that fails some
// of them (429, 500, dropped connections, malformed bodies), spread over this process and two
// `actorflow node` processes, of which one is killed (SIGKILL) and the other stopped (SIGSTOP)
// and, once the runtime has noticed its silence, resumed (SIGCONT) mid-run.
//
// It counts what reached the reducer: every item exactly once ("lost" and "doubled" both 0),
// none failed after its retries, and the stopped node's items started again elsewhere and the
// node used again once resumed.

#include <actorflow/stock_nodes.hpp>

#include "bench.hpp"
#include "bench_common.hpp"
#include "subprocess.hpp"

#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace actorflow::tools {

namespace {

int fail(const Error& error) { return bench_failed("chaos", error); }

// Deliveries to the reducer, by item index.
struct Deliveries {
  std::mutex mutex;
  std::vector<std::uint32_t> count;
  std::uint64_t failed = 0;
  std::optional<BatchSummary> summary;
};

// The node type "chaos" as this process registers it: the stock "summarise" exec (the nodes
// run their own, under that name), and a reducer that counts each item's deliveries as they
// come (as completed) instead of keeping them.
class CountingSummarise final : public ParallelBatchNode {
public:
  CountingSummarise(BatchOptions options, std::shared_ptr<Deliveries> deliveries)
      : ParallelBatchNode(options), deliveries_(std::move(deliveries)) {}

  Value prep(const State& state) override { return state.at("items"); }
  Task<Value> exec(Value item, Context& ctx) override {
    auto reply = co_await ctx.llm().chat(
        ChatRequest::user("Summarise in one sentence:\n\n" + item.as_string()));
    co_return reply.value().text;
  }
  bool on_item(const ItemOutcome& outcome) override {
    std::lock_guard lock(deliveries_->mutex);
    auto& count = deliveries_->count;
    if (outcome.index >= count.size())
      count.resize(outcome.index + 1);
    ++count[outcome.index];
    if (!outcome.ok())
      ++deliveries_->failed;
    return true;
  }
  std::string post_batch(State&, const Value&, BatchResult result) override {
    std::lock_guard lock(deliveries_->mutex);
    deliveries_->summary = result.summary;
    return std::string(default_action);
  }

private:
  std::shared_ptr<Deliveries> deliveries_;
};

// Waits until `done` is true, or at most `bound`; polled, as a bench's control thread may.
template <class Done>
bool wait_until(Done done, std::chrono::seconds bound) {
  const auto until = BenchClock::now() + bound;
  while (!done()) {
    if (BenchClock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// What the control thread did, and when (items done at that moment).
struct Timeline {
  std::atomic<std::size_t> done{0};
  std::optional<std::size_t> killed_at, stopped_at, noticed_at, resumed_at;
  bool reconnected = false;
};

} // namespace

int bench_chaos(const ChaosBenchOptions& options) {
  if (options.items == 0)
    return bench_failed("chaos", "--items must be at least 1");
  const std::size_t node_capacity = 64;
  auto sim = start_bench_sim(options.concurrency + 2 * node_capacity,
                             {"--latency-ms", std::to_string(options.latency_ms), "--fault-rate",
                              std::to_string(options.fault_rate), "--faults",
                              "429,500,drop,malformed", "--seed", "7"});
  if (!sim)
    return fail(sim.error());

  // The nodes call the same sim (actorflow node reads OPENAI_BASE_URL).
  ::setenv("OPENAI_BASE_URL", sim->openai.base_url.c_str(), 1);
  ::setenv("OPENAI_API_KEY", "sk-bench-chaos", 1);
  std::vector<ListeningChild> nodes;
  for (int i = 0; i < 2; ++i) {
    auto child = ListeningChild::start(
        "/proc/self/exe", "node", {"--workers", "1", "--capacity", std::to_string(node_capacity)});
    if (!child)
      return fail(child.error());
    nodes.push_back(std::move(*child));
  }
  ::unsetenv("OPENAI_BASE_URL");
  ::unsetenv("OPENAI_API_KEY");
  auto address = [&](std::size_t i) { return "127.0.0.1:" + std::to_string(nodes[i].port); };

  auto deliveries = std::make_shared<Deliveries>();
  RuntimeConfig config{.worker_threads = options.workers};
  config.models.add("openai", std::make_shared<OpenAiProvider>(sim->openai));
  config.cluster.nodes = {address(0), address(1)};
  config.cluster.node_silence = std::chrono::milliseconds(options.node_silence_ms);
  config.cluster.reconnect_interval = std::chrono::milliseconds(100);
  config.cluster.connect_timeout = std::chrono::milliseconds(1000);
  const BatchOptions batch{.max_concurrency = options.concurrency, .as_completed = true};
  if (auto added = config.nodes.add(
          "summarise",
          [batch, deliveries] { return std::make_unique<CountingSummarise>(batch, deliveries); });
      !added)
    return fail(added.error());
  Runtime runtime{std::move(config)};
  for (const auto& node : runtime.cluster_status())
    if (!node.connected)
      return fail(Error{Errc::connection_failed, node.address + ": " + node.last_error});

  // Every failure but a bad item is retried; the sim's faults are all transient.
  RetryPolicy retry;
  retry.max_attempts = 12;
  retry.initial_backoff = std::chrono::milliseconds(20);
  retry.max_backoff = std::chrono::milliseconds(1000);
  retry.retry_on = [](const Error& error) {
    return error.code != Errc::bad_input && error.code != Errc::cancelled;
  };
  auto flow =
      FlowBuilder("chaos").registered_node("batch", "summarise").retry("batch", retry).build();
  if (!flow)
    return fail(flow.error());
  Array texts;
  texts.reserve(options.items);
  for (std::size_t i = 0; i < options.items; ++i)
    texts.emplace_back("Item " + std::to_string(i) +
                       " is about actors. They pass messages; nothing is shared.");

  Timeline timeline;
  RunOptions run_options;
  run_options.on_progress = [&timeline](const BatchProgress& progress) {
    timeline.done.store(progress.done, std::memory_order_relaxed);
  };
  auto t0 = BenchClock::now();
  auto run = runtime.run(*flow, State{}.with("items", std::move(texts)), std::move(run_options));

  // The faults, each once the run is under way: a tenth done, a fifth done.
  std::thread control([&] {
    auto reached = [&](std::size_t share) {
      return wait_until(
          [&] {
            return run.wait_for(std::chrono::milliseconds(0)) ||
                   timeline.done.load() * share >= options.items;
          },
          std::chrono::seconds(600));
    };
    if (!reached(10) || run.wait_for(std::chrono::milliseconds(0)))
      return;
    timeline.killed_at = timeline.done.load();
    nodes[0].process.signal(SIGKILL);
    if (!reached(5) || run.wait_for(std::chrono::milliseconds(0)))
      return;
    timeline.stopped_at = timeline.done.load();
    nodes[1].process.signal(SIGSTOP);
    // Resumed once the runtime has noticed (it does not know the node was stopped).
    bool noticed = wait_until([&] { return !runtime.cluster_status().at(1).connected; },
                              std::chrono::seconds(60));
    if (noticed)
      timeline.noticed_at = timeline.done.load();
    timeline.resumed_at = timeline.done.load();
    nodes[1].process.signal(SIGCONT);
    timeline.reconnected = noticed && wait_until(
                                          [&] {
                                            auto status = runtime.cluster_status().at(1);
                                            return status.connected && status.connects >= 2;
                                          },
                                          std::chrono::seconds(60));
  });
  auto result = run.get();
  const double wall_s = seconds_since(t0);
  control.join();
  if (!result)
    return fail(result.error());

  std::uint64_t lost = 0, doubled = 0;
  std::lock_guard lock(deliveries->mutex);
  deliveries->count.resize(options.items);
  for (auto count : deliveries->count) {
    lost += count == 0 ? 1 : 0;
    doubled += count > 1 ? 1 : 0;
  }
  const auto summary = deliveries->summary.value_or(BatchSummary{});
  const auto status = runtime.cluster_status();
  Array node_reports;
  for (const auto& node : status)
    node_reports.emplace_back(Value::object({{"address", node.address},
                                             {"connected", node.connected},
                                             {"connects", node.connects},
                                             {"items_done", node.items_done},
                                             {"items_requeued", node.items_requeued}}));
  auto optional_count = [](const std::optional<std::size_t>& at) {
    return at ? Value(*at) : Value{};
  };
  // What the sim did: its faults by kind.
  Value sim_faults;
  if (auto stats = sim->child.stats(); stats && stats->contains("faults"))
    if (auto faults = from_json(stats->at("faults").dump()))
      sim_faults = std::move(*faults);
  const bool ok = lost == 0 && doubled == 0 && deliveries->failed == 0 && timeline.killed_at &&
                  timeline.noticed_at && timeline.reconnected && status.at(1).items_requeued > 0;
  return print_report(
      Value::object({{"scenario", "chaos"},
                     {"items", options.items},
                     {"concurrency", options.concurrency},
                     {"latency_ms", options.latency_ms},
                     {"fault_rate", options.fault_rate},
                     {"node_silence_ms", options.node_silence_ms},
                     {"lost", lost},
                     {"doubled", doubled},
                     {"failed", deliveries->failed},
                     {"retries", summary.retries},
                     {"requeued", summary.requeued},
                     {"wall_s", wall_s},
                     {"killed_at_done", optional_count(timeline.killed_at)},
                     {"stopped_at_done", optional_count(timeline.stopped_at)},
                     {"silence_noticed_at_done", optional_count(timeline.noticed_at)},
                     {"resumed_at_done", optional_count(timeline.resumed_at)},
                     {"stopped_node_reconnected", timeline.reconnected},
                     {"nodes", std::move(node_reports)},
                     {"sim_faults", std::move(sim_faults)},
                     {"ok", ok}}),
      ok);
}

} // namespace actorflow::tools
