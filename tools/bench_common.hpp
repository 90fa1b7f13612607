#pragma once
// What every `actorflow bench` scenario shares: timing, the JSON report, generated items and
// the ideal of a latency-bound window; and for the scenarios that call a model over HTTP, the
// `actorflow sim` they start and the batch of chat calls they send it.

#include <actorflow/actorflow.hpp>
#include <actorflow/openai.hpp>

#include "subprocess.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::tools {

using BenchClock = std::chrono::steady_clock;

/// User plus system CPU time of this process so far, in microseconds.
inline double process_cpu_us() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

inline double seconds_since(BenchClock::time_point t0) {
  return std::chrono::duration<double>(BenchClock::now() - t0).count();
}

/// Prints `report` as JSON on stdout; the exit code: 0 if `ok`.
inline int print_report(const Value& report, bool ok) {
  std::cout << to_json(report, 2) << "\n";
  return ok ? 0 : 1;
}

/// "actorflow bench <scenario>: <what>" on stderr; exit code 1.
inline int bench_failed(std::string_view scenario, std::string_view what) {
  std::cerr << "actorflow bench " << scenario << ": " << what << "\n";
  return 1;
}

inline int bench_failed(std::string_view scenario, const Error& error) {
  return bench_failed(scenario, error.to_string());
}

/// N items made on demand by `make(i)` (the index itself by default): the input must not
/// dominate the memory figure.
inline ItemSource counting(std::size_t n, std::function<Value(std::size_t)> make = {}) {
  return {[n, make = std::move(make), next = std::size_t{0}]() mutable -> std::optional<Value> {
            if (next == n)
              return std::nullopt;
            auto i = next++;
            return make ? make(i) : Value(i);
          },
          n};
}

/// The best a window of `concurrency` calls of `latency_ms` each can do for `items`:
/// ceil(N / C) * L, in seconds.
inline double ideal_window_s(std::size_t items, std::size_t concurrency, std::size_t latency_ms) {
  auto waves = (items + concurrency - 1) / concurrency;
  return static_cast<double>(waves * latency_ms) / 1000.0;
}

/// The fields of every latency-bound window scenario: its shape, wall time, ideal and ratio.
inline Map window_report(std::string scenario, std::size_t items, std::size_t concurrency,
                         std::size_t latency_ms, std::size_t workers, double wall_s) {
  auto ideal_s = ideal_window_s(items, concurrency, latency_ms);
  return Map{{"scenario", std::move(scenario)},
             {"items", items},
             {"concurrency", concurrency},
             {"latency_ms", latency_ms},
             {"workers", workers},
             {"wall_s", wall_s},
             {"ideal_s", ideal_s},
             {"ratio_to_ideal", wall_s / ideal_s}};
}

/// A run's result and the wall time of the run alone (the Runtime's start and shutdown are
/// not counted, as the plain-CAF baseline does not count its actor system's).
struct TimedRun {
  Result<RunResult> result;
  double wall_s = 0;
};

inline TimedRun timed_run(Runtime& runtime, const Flow& flow, RunOptions options = {}) {
  auto t0 = BenchClock::now();
  auto result = runtime.run(flow, {}, std::move(options)).get();
  return {std::move(result), seconds_since(t0)};
}

// -- model calls over HTTP ------------------------------------------------------------------

/// The provider name the HTTP scenarios register their openai provider under.
inline constexpr std::string_view bench_provider = "openai";

/// The chat call of item `i`: one short user message, with `max_tokens` if given.
ChatRequest bench_chat_request(std::size_t i, std::optional<std::uint32_t> max_tokens);

/// Items 0..n-1, each a no-op exec; leaves the item count in the state ("count"). What the
/// benches that measure what watching a run costs (events, spans) watch.
class CountingBatch final : public ParallelBatchNode {
public:
  CountingBatch(BatchOptions options, std::size_t n) : ParallelBatchNode(options), n_(n) {}
  ItemSource items(const State&, const Value&) override { return counting(n_); }
  Task<Value> exec(Value item, Context&) override { co_return item; }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    state = state.with("count", static_cast<std::int64_t>(result.items.size()));
    return std::string(default_action);
  }

private:
  std::size_t n_;
};

/// One chat call (`bench_chat_request`) per item through `ctx.llm(bench_provider)`, without
/// retries: a failed call is a failed item. Leaves in the state "ok" and "failed" (item
/// counts), "failed_by_code" (a map from error code to count), "tokens" (the usage of the
/// calls that succeeded) and "first_error" ("" if none).
class ChatBatch : public ParallelBatchNode {
public:
  ChatBatch(BatchOptions options, std::size_t n, std::optional<std::uint32_t> max_tokens = {});
  ItemSource items(const State&, const Value&) override;
  Task<Value> exec(Value item, Context& ctx) override;
  std::string post_batch(State& state, const Value&, BatchResult result) override;

private:
  std::size_t n_;
  std::optional<std::uint32_t> max_tokens_;
};

/// An `actorflow sim` child of this process and the client configuration that talks to it.
struct BenchSim {
  SimChild child;
  /// The sim's base URL, model "local", at most `concurrency` connections.
  OpenAiConfig openai;
};

/// Starts `actorflow sim <sim_args>` (this very binary) with a server thread for each of the
/// `concurrency` connections the client may open, plus spare ones.
[[nodiscard]] Result<BenchSim> start_bench_sim(std::size_t concurrency,
                                               std::vector<std::string> sim_args);

} // namespace actorflow::tools
