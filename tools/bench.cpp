#include "bench.hpp"

#include <actorflow/actorflow.hpp>

#include "bench_common.hpp"
#include "rss.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>

namespace actorflow::tools {

namespace {

double ms_since(BenchClock::time_point t0) { return seconds_since(t0) * 1000.0; }

} // namespace

int bench_sleep(const SleepBenchOptions& options) {
  auto delay = std::chrono::milliseconds(options.sleep_ms);
  auto flow = FlowBuilder("sleeper")
                  .node("nap", lambda_node({.prep = {},
                                            .exec = [delay](Value, Context& ctx) -> Task<Value> {
                                              co_await ctx.sleep(delay);
                                              co_return true;
                                            },
                                            .post = {}}))
                  .build();
  if (!flow)
    return bench_failed("sleep", flow.error());
  Runtime runtime{RuntimeConfig{.worker_threads = options.workers}};
  std::vector<RunHandle> handles;
  handles.reserve(options.nodes);
  auto t0 = BenchClock::now();
  for (std::size_t i = 0; i < options.nodes; ++i)
    handles.push_back(runtime.run(*flow));
  std::size_t failed = 0;
  for (auto& h : handles)
    failed += h.get().ok() ? 0 : 1;
  auto wall = ms_since(t0);
  auto ideal = static_cast<double>(options.sleep_ms);
  auto blocking = static_cast<double>(options.nodes * options.sleep_ms) /
                  static_cast<double>(runtime.worker_threads());
  return print_report(Value::object({{"bench", "sleep"},
                                     {"nodes", options.nodes},
                                     {"sleep_ms", options.sleep_ms},
                                     {"workers", runtime.worker_threads()},
                                     {"failed", failed},
                                     {"wall_ms", wall},
                                     {"ideal_ms", ideal},
                                     {"ratio_to_ideal", wall / ideal},
                                     {"blocking_sleep_would_take_ms", blocking},
                                     {"speedup_vs_blocking", blocking / wall},
                                     {"ok", failed == 0}}),
                      failed == 0);
}

int bench_steps(const StepsBenchOptions& options) {
  auto steps = static_cast<std::int64_t>(options.steps);
  auto count = step_node([steps](State& s) {
    auto n = s.get_or("n", 0).as_int() + 1;
    s = s.with("n", n);
    return n < steps ? "again" : "done";
  });
  auto flow = FlowBuilder("steps")
                  .node("count", count)
                  .edge("count", "count", "again")
                  .max_steps(options.steps + 1)
                  .build();
  if (!flow)
    return bench_failed("steps", flow.error());

  // Baseline: the same node, made and driven by a plain loop on this thread.
  auto t_base = BenchClock::now();
  State state;
  for (std::int64_t i = 0; i < steps; ++i) {
    auto node = count();
    State next = state;
    (void)node->prep(next);
    (void)node->post(next, Value{}, Value{});
    state = std::move(next);
  }
  auto base_ms = ms_since(t_base);

  Runtime runtime{RuntimeConfig{.worker_threads = options.workers}};
  auto t0 = BenchClock::now();
  auto result = runtime.run(*flow).get();
  auto wall = ms_since(t0);
  if (!result)
    return bench_failed("steps", result.error());
  if (result->state.at("n").as_int() != steps || state.at("n").as_int() != steps)
    return bench_failed("steps", "step count mismatch");
  auto per_step_us = wall * 1000.0 / static_cast<double>(steps);
  auto base_per_step_us = base_ms * 1000.0 / static_cast<double>(steps);
  return print_report(
      Value::object({{"bench", "steps"},
                     {"steps", steps},
                     {"workers", runtime.worker_threads()},
                     {"wall_ms", wall},
                     {"per_step_us", per_step_us},
                     {"baseline_plain_loop_ms", base_ms},
                     {"baseline_per_step_us", base_per_step_us},
                     {"actor_overhead_per_step_us", per_step_us - base_per_step_us}}),
      true); // a wrong count failed above
}

namespace {

// Spends `cpu` of this thread's time in a busy loop (a stand-in for CPU-bound work).
void burn_cpu(std::chrono::microseconds cpu) {
  if (cpu.count() == 0)
    return;
  timespec start{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  const auto due =
      std::chrono::seconds{start.tv_sec} + std::chrono::nanoseconds{start.tv_nsec} + cpu;
  for (;;) {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    if (std::chrono::seconds{now.tv_sec} + std::chrono::nanoseconds{now.tv_nsec} >= due)
      return;
  }
}

class NoopBatch : public ParallelBatchNode {
public:
  NoopBatch(BatchOptions options, std::size_t n, std::chrono::microseconds cpu = {})
      : ParallelBatchNode(options), n_(n), cpu_(cpu) {}
  ItemSource items(const State&, const Value&) override { return counting(n_); }
  Task<Value> exec(Value item, Context&) override {
    burn_cpu(cpu_);
    co_return item;
  }
  bool on_item(const ItemOutcome& outcome) override {
    sum_ += outcome.ok() ? outcome.value().as_int() : 0;
    ++folded_;
    return true;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    if (!batch_options().as_completed) {
      for (const auto& item : result.items)
        sum_ += item.ok() ? item.value().as_int() : 0;
      folded_ = result.items.size();
    }
    state = state.with({{"sum", sum_}, {"count", folded_}, {"failed", result.summary.failed}});
    return std::string(default_action);
  }

private:
  std::size_t n_;
  std::chrono::microseconds cpu_;
  std::int64_t sum_ = 0;
  std::size_t folded_ = 0;
};

class TimerBatch : public ParallelBatchNode {
public:
  TimerBatch(BatchOptions options, std::size_t n, std::chrono::milliseconds latency)
      : ParallelBatchNode(options), n_(n), latency_(latency) {}
  ItemSource items(const State&, const Value&) override { return counting(n_); }
  Task<Value> exec(Value item, Context& ctx) override {
    co_await ctx.sleep(latency_);
    co_return item;
  }

private:
  std::size_t n_;
  std::chrono::milliseconds latency_;
};

/// A one-node flow of `node` on a fresh Runtime, timed without the Runtime's start and stop.
TimedRun run_batch(std::size_t workers, NodeFactory node,
                   SchedulerPolicy policy = SchedulerPolicy::stealing) {
  auto flow = FlowBuilder("bench").node("batch", std::move(node)).build();
  if (!flow)
    return {flow.error(), 0};
  Runtime runtime{RuntimeConfig{.worker_threads = workers, .scheduler = policy}};
  return timed_run(runtime, *flow);
}

} // namespace

int bench_fanout(const FanoutBenchOptions& options) {
  BatchOptions batch{.max_concurrency = options.concurrency,
                     .policy = FailurePolicy::collect(),
                     .as_completed = options.fold};
  const std::chrono::microseconds cpu(options.exec_cpu_us);
  auto [result, wall_s] =
      run_batch(options.workers, factory_of<NoopBatch>(batch, options.items, cpu), options.policy);
  if (!result)
    return bench_failed("fanout", result.error());
  // With CPU-bound items: the wall time if every worker were busy with exec and nothing else.
  const double ideal_s = static_cast<double>(options.items * options.exec_cpu_us) * 1e-6 /
                         static_cast<double>(options.workers);
  auto n = static_cast<std::int64_t>(options.items);
  bool ok = result->state.at("count").as_int() == n && result->state.at("failed").as_int() == 0 &&
            result->state.at("sum").as_int() == n * (n - 1) / 2;
  return print_report(
      Value::object({{"scenario", options.fold ? "fanout-fold" : "fanout"},
                     {"items", options.items},
                     {"concurrency", options.concurrency},
                     {"workers", options.workers},
                     {"policy", policy_name(options.policy)},
                     {"wall_s", wall_s},
                     {"per_item_us", wall_s * 1e6 / static_cast<double>(options.items)},
                     {"exec_cpu_us", options.exec_cpu_us},
                     {"ideal_s", ideal_s},
                     {"wall_over_ideal", ideal_s > 0 ? wall_s / ideal_s : 0.0},
                     {"peak_rss_kb", peak_rss_kb()},
                     {"ok", ok}}),
      ok);
}

int bench_checkpoint(const CheckpointBenchOptions& options) {
  BatchOptions batch{.max_concurrency = options.concurrency};
  auto flow =
      FlowBuilder("bench").node("batch", factory_of<NoopBatch>(batch, options.items)).build();
  if (!flow)
    return bench_failed("checkpoint", flow.error());
  const auto dir = std::filesystem::temp_directory_path() /
                   ("actorflow-bench-checkpoint-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{dir};
  const std::string db = options.db.empty() ? (dir / "bench.db").string() : options.db;
  auto store = open_checkpoint_store(db);
  if (!store)
    return bench_failed("checkpoint", store.error());
  // New in a store given again.
  const std::string run_id = "bench-" + std::to_string(::getpid());

  auto measure = [&](bool durable) {
    RuntimeConfig config{.worker_threads = options.workers};
    if (durable)
      config.checkpoints = *store;
    Runtime runtime{std::move(config)};
    return timed_run(runtime, *flow, RunOptions{.run_id = durable ? run_id : ""});
  };
  auto plain = measure(false);
  auto durable = measure(true);
  if (!plain.result || !durable.result)
    return bench_failed("checkpoint", (plain.result ? durable : plain).result.error());
  auto run = (*store)->load_run(run_id);
  const auto committed = run ? run->record.items_done : 0;
  // The WAL's size with the store still open: bounded however many items were written.
  std::error_code no_wal;
  const auto wal_bytes = std::filesystem::file_size(dir / "bench.db-wal", no_wal);
  const auto n = static_cast<double>(options.items);
  const bool ok = committed == options.items && durable.result->state.at("count").as_int() ==
                                                    plain.result->state.at("count").as_int();
  return print_report(
      Value::object({{"scenario", "checkpoint"},
                     {"items", options.items},
                     {"concurrency", options.concurrency},
                     {"workers", options.workers},
                     {"wal_bytes", no_wal ? 0 : static_cast<std::int64_t>(wal_bytes)},
                     {"wall_s_without_store", plain.wall_s},
                     {"wall_s_with_store", durable.wall_s},
                     {"per_item_us_without_store", plain.wall_s * 1e6 / n},
                     {"per_item_us_with_store", durable.wall_s * 1e6 / n},
                     {"ratio", durable.wall_s / plain.wall_s},
                     {"items_committed", committed},
                     {"peak_rss_kb", peak_rss_kb()},
                     {"ok", ok}}),
      ok);
}

int bench_latency(const LatencyBenchOptions& options) {
  auto latency = std::chrono::milliseconds(options.latency_ms);
  BatchOptions batch{.max_concurrency = options.concurrency};
  auto [result, wall_s] =
      run_batch(options.workers, factory_of<TimerBatch>(batch, options.items, latency));
  if (!result)
    return bench_failed("latency", result.error());
  bool ok = result->state.at("results").size() == options.items;
  auto report = window_report("latency", options.items, options.concurrency, options.latency_ms,
                              options.workers, wall_s);
  report["ok"] = ok;
  return print_report(report, ok);
}

} // namespace actorflow::tools
