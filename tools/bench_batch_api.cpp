// `actorflow bench batch-api`: the same batch of chat calls online and through the
// openai_batch provider, both against an `actorflow sim` this bench starts, with the same
// prices: what the batch costs against online (the sim's discount is OpenAI's: half), how few
// HTTP requests the batch provider makes for all those calls, and the client's CPU per item.
// A third run does the batch again as a durable run whose batch provider journals its jobs in
// the run's checkpoint store (a file in the temp folder): what durability costs per item.
#include <actorflow/actorflow.hpp>

#include "bench.hpp"
#include "bench_common.hpp"
#include "rss.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>

namespace actorflow::tools {

namespace {

int fail(const Error& error) { return bench_failed("batch-api", error); }

struct Side {
  Result<RunResult> result = Error{};
  double wall_s = 0;
  double cpu_us_per_item = 0;
};

// One run of the batch through `provider`, registered as the bench provider; durable (run id
// "bench") when `store` is given.
Side run_side(ModelProviderPtr provider, const PriceTable& prices, const Flow& flow,
              std::size_t items, std::size_t workers, CheckpointStorePtr store = nullptr) {
  RuntimeConfig config{.worker_threads = workers};
  config.models.add(std::string(bench_provider), std::move(provider));
  config.prices = prices;
  config.checkpoints = store;
  Runtime runtime{std::move(config)};
  const double cpu0 = process_cpu_us();
  auto [result, wall_s] = timed_run(runtime, flow, RunOptions{.run_id = store ? "bench" : ""});
  return Side{std::move(result), wall_s, (process_cpu_us() - cpu0) / static_cast<double>(items)};
}

Value side_value(const Side& side) {
  const RunUsage& usage = side.result->usage;
  return Map{{"wall_s", side.wall_s},
             {"calls", static_cast<std::int64_t>(usage.calls)},
             {"tokens", static_cast<std::int64_t>(usage.total_tokens())},
             {"cost_usd", usage.cost},
             {"cpu_us_per_item", side.cpu_us_per_item},
             {"ok", side.result->state.at("ok")},
             {"failed", side.result->state.at("failed")},
             {"first_error", side.result->state.at("first_error")}};
}

} // namespace

int bench_batch_api(const BatchApiBenchOptions& options) {
  auto sim = start_bench_sim(options.concurrency,
                             {"--batch-delay-ms", std::to_string(options.batch_delay_ms)});
  if (!sim)
    return fail(sim.error());
  // gpt-4o-mini's list prices, on the sim's model.
  Price price;
  price.input = 0.15;
  price.cached_input = 0.075;
  price.output = 0.6;
  PriceTable prices;
  prices.set("*", "local", price);

  auto online_flow =
      FlowBuilder("bench-online")
          .node("chat", factory_of<ChatBatch>(BatchOptions{.max_concurrency = options.concurrency},
                                              options.items, 64))
          .build();
  // Every call in flight at once: they wait in the provider's jobs, not in the window.
  auto batch_flow =
      FlowBuilder("bench-batch")
          .node("chat", factory_of<ChatBatch>(BatchOptions{.max_concurrency = options.items},
                                              options.items, 64))
          .build();
  if (!online_flow || !batch_flow)
    return fail(online_flow ? batch_flow.error() : online_flow.error());

  const Side online = run_side(make_openai_provider(sim->openai), prices, *online_flow,
                               options.items, options.workers);
  if (!online.result)
    return fail(online.result.error());

  OpenAiBatchOptions batch_options;
  batch_options.max_requests = options.max_requests;
  batch_options.max_wait = std::chrono::milliseconds(100);
  batch_options.poll_initial = std::chrono::milliseconds(20);
  batch_options.poll_max = std::chrono::milliseconds(200);
  auto provider = std::make_shared<OpenAiBatchProvider>(sim->openai, batch_options);
  const Side batch = run_side(provider, prices, *batch_flow, options.items, options.workers);
  if (!batch.result)
    return fail(batch.result.error());
  auto server = sim->child.stats();
  if (!server)
    return fail(server.error());
  const auto jobs = provider->stats();

  // The same batch, durable: item checkpoints and the provider's journal in one store.
  const auto db = std::filesystem::temp_directory_path() /
                  ("actorflow-bench-batch-api-" + std::to_string(getpid()) + ".db");
  Side durable;
  {
    auto store = open_checkpoint_store(db.string());
    if (!store)
      return fail(store.error());
    batch_options.journal = *store;
    durable = run_side(std::make_shared<OpenAiBatchProvider>(sim->openai, batch_options), prices,
                       *batch_flow, options.items, options.workers, *store);
  }
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(db.string() + suffix);
  if (!durable.result)
    return fail(durable.result.error());

  const auto all = static_cast<std::int64_t>(options.items);
  const bool ok = online.result->state.at("ok").as_int() == all &&
                  batch.result->state.at("ok").as_int() == all &&
                  durable.result->state.at("ok").as_int() == all;
  const double cost_ratio =
      online.result->usage.cost > 0 ? batch.result->usage.cost / online.result->usage.cost : 0;
  Map report{{"scenario", "batch-api"},
             {"items", options.items},
             {"concurrency", options.concurrency},
             {"batch_delay_ms", options.batch_delay_ms},
             {"max_requests", options.max_requests},
             {"workers", options.workers},
             {"online", side_value(online)},
             {"batch", side_value(batch)},
             {"durable_batch", side_value(durable)},
             {"durable_cpu_ratio",
              batch.cpu_us_per_item > 0 ? durable.cpu_us_per_item / batch.cpu_us_per_item : 0.0},
             {"cost_ratio", cost_ratio},
             // Of the (first) batch run: the durable one's come after.
             {"sim_requests", (*server)["batch"].value("requests", std::int64_t{-1})},
             {"jobs", static_cast<std::int64_t>(jobs.jobs_submitted)},
             {"peak_rss_kb", peak_rss_kb()},
             {"ok", ok}};
  return print_report(report, ok);
}

} // namespace actorflow::tools
