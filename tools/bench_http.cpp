// `actorflow bench http`: a batch of chat calls through the openai provider against an
// `actorflow sim` process this bench starts itself, on loopback.
#include <actorflow/actorflow.hpp>
#include <actorflow/openai.hpp>

#include "bench.hpp"
#include "bench_common.hpp"

#include <nlohmann/json.hpp>

namespace actorflow::tools {

namespace {

int fail(const Error& error) { return bench_failed("http", error); }

} // namespace

int bench_http(const HttpBenchOptions& options) {
  auto sim =
      start_bench_sim(options.concurrency, {"--latency-ms", std::to_string(options.latency_ms)});
  if (!sim)
    return fail(sim.error());
  auto provider = std::make_shared<OpenAiProvider>(sim->openai);
  RuntimeConfig runtime_config{.worker_threads = options.workers};
  runtime_config.models.add(std::string(bench_provider), provider);
  Runtime runtime{std::move(runtime_config)};

  BatchOptions batch{.max_concurrency = options.concurrency};
  auto flow =
      FlowBuilder("bench-http").node("chat", factory_of<ChatBatch>(batch, options.items)).build();
  if (!flow)
    return fail(flow.error());
  auto cpu0 = process_cpu_us();
  auto [result, wall_s] = timed_run(runtime, *flow);
  auto cpu_per_request = (process_cpu_us() - cpu0) / static_cast<double>(options.items);
  if (!result)
    return fail(result.error());

  auto server = sim->child.stats();
  auto stats = server ? *server : nlohmann::json::object();
  auto io = provider->stats();
  bool ok = result->state.at("ok").as_int() == static_cast<std::int64_t>(options.items);
  auto report = window_report("http", options.items, options.concurrency, options.latency_ms,
                              options.workers, wall_s);
  report.insert({{"client_cpu_us_per_request", cpu_per_request},
                 {"io_threads", static_cast<std::int64_t>(io.io_threads)},
                 {"max_in_flight", static_cast<std::int64_t>(io.max_in_flight)},
                 {"server_requests", stats.value("requests", std::int64_t{-1})},
                 {"server_max_in_flight", stats.value("max_in_flight", std::int64_t{-1})},
                 {"tokens", result->state.at("tokens")},
                 {"failed", result->state.at("failed")},
                 {"failed_by_code", result->state.at("failed_by_code")},
                 {"first_error", result->state.at("first_error")},
                 {"ok", ok}});
  return print_report(report, ok);
}

} // namespace actorflow::tools
