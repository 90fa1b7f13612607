// `actorflow bench ratelimit`: a batch of chat calls through the openai provider, paced by the
// runtime's resource controller for key "openai", against an `actorflow sim` process that
// enforces the same limits. No retries: a 429 the runtime did not prevent is a failed item.
#include <actorflow/actorflow.hpp>
#include <actorflow/openai.hpp>

#include "bench.hpp"
#include "bench_common.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::tools {

namespace {

int fail(std::string_view what) { return bench_failed("ratelimit", what); }
int fail(const Error& error) { return bench_failed("ratelimit", error); }

double per_second(std::uint64_t per_minute) { return static_cast<double>(per_minute) / 60.0; }

double ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

/// When each model call went out (its end less how long it took), from `on_model_call`.
class CallStarts {
public:
  void add(const ModelCallEvent& event) {
    auto start = BenchClock::now() - event.took;
    std::lock_guard lock{mutex_};
    starts_.push_back(start);
  }
  /// From the first call out to the last, in seconds: the pacing alone, without the last
  /// call's latency.
  [[nodiscard]] double span_s() {
    std::lock_guard lock{mutex_};
    if (starts_.size() < 2)
      return 0;
    auto [first, last] = std::minmax_element(starts_.begin(), starts_.end());
    return std::chrono::duration<double>(*last - *first).count();
  }

private:
  std::mutex mutex_;
  std::vector<BenchClock::time_point> starts_;
};

} // namespace

int bench_ratelimit(const RateLimitBenchOptions& options) {
  if (options.rpm == 0 && options.tpm == 0)
    return fail("--rpm and --tpm are both 0: nothing to pace");
  std::vector<std::string> sim_args{"--latency-ms", std::to_string(options.latency_ms),
                                    "--rpm",        std::to_string(options.rpm),
                                    "--tpm",        std::to_string(options.tpm)};
  if (options.no_settle)
    sim_args.emplace_back("--no-settle");
  auto sim = start_bench_sim(options.concurrency, std::move(sim_args));
  if (!sim)
    return fail(sim.error());

  // What the runtime reserves for each call, summed: the token limit's ideal is counted in it.
  std::uint64_t reserved = 0;
  for (std::size_t i = 0; i < options.items; ++i)
    reserved += reserved_tokens(bench_chat_request(i, options.max_tokens));

  RuntimeConfig runtime_config{.worker_threads = options.workers};
  runtime_config.models.add(std::string(bench_provider), make_openai_provider(sim->openai));
  runtime_config.limits[std::string(bench_provider)] =
      Limits{.requests_per_minute = options.rpm,
             .tokens_per_minute = options.tpm,
             .settle_with_actual_usage = !options.no_settle};
  Runtime runtime{std::move(runtime_config)};

  BatchOptions batch{.max_concurrency = options.concurrency};
  auto flow = FlowBuilder("bench-ratelimit")
                  .node("chat", factory_of<ChatBatch>(batch, options.items,
                                                      std::optional(options.max_tokens)))
                  .build();
  if (!flow)
    return fail(flow.error());
  // The calls' start times, recorded on the way.
  CallStarts starts;
  auto [result, wall_s] = timed_run(
      runtime, *flow,
      RunOptions{.on_model_call = [&starts](const ModelCallEvent& event) { starts.add(event); }});
  if (!result)
    return fail(result.error());

  auto server = sim->child.stats();
  auto stats = server ? *server : nlohmann::json::object();
  LimitStats limit;
  auto all = runtime.limit_stats();
  if (auto it = std::find_if(all.begin(), all.end(),
                             [](const LimitStats& s) { return s.provider == bench_provider; });
      it != all.end())
    limit = *it;

  auto items = static_cast<double>(options.items);
  double requests_ideal_s = options.rpm != 0 ? items / per_second(options.rpm) : 0;
  double tokens_ideal_s =
      options.tpm != 0 ? static_cast<double>(reserved) / per_second(options.tpm) : 0;
  auto ideal_s = std::max(requests_ideal_s, tokens_ideal_s);
  bool settled = options.tpm != 0 && !options.no_settle;
  auto actual_tokens = static_cast<std::uint64_t>(result->state.at("tokens").as_int());

  auto ok = result->state.at("ok").as_int() == static_cast<std::int64_t>(options.items);
  Map report{{"scenario", "ratelimit"},
             {"items", options.items},
             {"rpm", options.rpm},
             {"tpm", options.tpm},
             {"latency_ms", options.latency_ms},
             {"max_tokens", static_cast<std::uint64_t>(options.max_tokens)},
             {"settle", !options.no_settle},
             {"workers", options.workers},
             {"wall_s", wall_s},
             {"ideal_s", ideal_s},
             {"ratio", wall_s / ideal_s},
             // N calls paced at the ideal rate go out over (N - 1) / rate: the rest of wall_s
             // is the last call's latency and the run's own start and end.
             {"calls_span_s", starts.span_s()},
             {"binding", tokens_ideal_s > requests_ideal_s ? "tokens" : "requests"},
             {"reserved_tokens", reserved},
             {"actual_tokens", actual_tokens},
             {"server_rejections", stats.value("rejected", std::int64_t{-1})},
             {"server_rejected_requests", stats.value("rejected_requests", std::int64_t{-1})},
             {"server_rejected_tokens", stats.value("rejected_tokens", std::int64_t{-1})},
             {"server_requests", stats.value("requests", std::int64_t{-1})},
             // What the sim's token bucket was charged on admission (0 without --tpm).
             {"server_tokens_charged", stats.value("tokens_charged", std::int64_t{-1})},
             {"failed_items", result->state.at("failed")},
             {"failed_by_code", result->state.at("failed_by_code")},
             {"first_error", result->state.at("first_error")},
             {"granted", limit.granted},
             {"rate_limited", limit.rate_limited},
             {"wait_p50_ms", ms(limit.wait_p50)},
             {"wait_p99_ms", ms(limit.wait_p99)},
             {"wait_max_ms", ms(limit.wait_max)},
             {"ok", ok}};
  if (settled) {
    // Settling refunds what answers did not use, so the token limit allows more than ideal_s
    // assumes; the ideal of the tokens actually used is given beside it.
    auto settled_ideal_s =
        std::max(requests_ideal_s, static_cast<double>(actual_tokens) / per_second(options.tpm));
    report.insert({{"ideal_assumes", "reserved tokens (prompt estimate + max_tokens), as if "
                                     "nothing were refunded; ideal_settled_s counts the tokens "
                                     "the answers actually used"},
                   {"ideal_settled_s", settled_ideal_s},
                   {"ratio_settled", wall_s / settled_ideal_s}});
  }
  return print_report(report, ok);
}

} // namespace actorflow::tools
