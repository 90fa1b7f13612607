// `actorflow bench http`: a batch of chat calls through the openai provider against an
// `actorflow sim` process this bench starts itself, on loopback.
#include "bench.hpp"
#include "bench_common.hpp"
#include "subprocess.hpp"

#include <actorflow/actorflow.hpp>
#include <actorflow/openai.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <chrono>
#include <iostream>

namespace actorflow::tools {

namespace {

/// User plus system CPU time of this process so far, in microseconds.
double cpu_us() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

/// One chat call per item, through `ctx.llm()`.
class ChatBatch : public ParallelBatchNode {
public:
  ChatBatch(BatchOptions options, std::size_t n) : ParallelBatchNode(options), n_(n) {}
  ItemSource items(const State&, const Value&) override {
    return counting(n_, [](std::size_t i) { return Value("Say hello to item " + std::to_string(i) + "."); });
  }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto reply = co_await ctx.llm().chat(prompt.as_string());
    co_return static_cast<std::int64_t>(reply.value().usage.total_tokens);
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    std::int64_t tokens = 0;
    std::string first_error;
    for (const auto& item : result.items) {
      if (item.ok())
        tokens += item.value().as_int();
      else if (first_error.empty())
        first_error = item.error().to_string();
    }
    state = state.with({{"ok", static_cast<std::int64_t>(result.summary.succeeded)},
                        {"failed", static_cast<std::int64_t>(result.summary.failed)},
                        {"tokens", tokens},
                        {"first_error", first_error}});
    return std::string(default_action);
  }

private:
  std::size_t n_;
};

int fail(const std::string& what) { return bench_failed("http", what); }

} // namespace

int bench_http(const HttpBenchOptions& options) {
  // The sim gets a thread per connection the client may open, plus spare ones.
  auto sim = SimChild::start("/proc/self/exe",
                             {"--latency-ms", std::to_string(options.latency_ms), "--threads",
                              std::to_string(options.concurrency + 64)});
  if (!sim)
    return fail(sim.error().to_string());

  OpenAiConfig config;
  config.base_url = sim->base_url();
  config.model = "local";
  config.max_connections = options.concurrency;
  auto provider = std::make_shared<OpenAiProvider>(config);
  RuntimeConfig runtime_config{.worker_threads = options.workers};
  runtime_config.models.add("sim", provider);
  Runtime runtime{std::move(runtime_config)};

  BatchOptions batch{.max_concurrency = options.concurrency};
  auto flow = FlowBuilder("bench-http")
                  .node("chat", factory_of<ChatBatch>(batch, options.items))
                  .build();
  if (!flow)
    return fail(flow.error().to_string());
  auto cpu0 = cpu_us();
  auto [result, wall_s] = timed_run(runtime, *flow);
  auto cpu_per_request = (cpu_us() - cpu0) / static_cast<double>(options.items);
  if (!result)
    return fail(result.error().to_string());

  auto server = sim->stats();
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
                 {"first_error", result->state.at("first_error")},
                 {"ok", ok}});
  return print_report(report, ok);
}

} // namespace actorflow::tools
