// `actorflow bench events`: the fan-out (a no-op exec per item) with every event of the run
// streamed to a reader thread (StreamMode::debug: each item's ItemFinished, the node's events,
// the end), against the same run without a reader. Runs alternate, so both sides see the same
// machine; the best run of each side is compared.
#include <actorflow/actorflow.hpp>

#include "bench.hpp"
#include "bench_common.hpp"

#include <algorithm>
#include <limits>
#include <thread>

namespace actorflow::tools {

namespace {

struct Side {
  double best_s = std::numeric_limits<double>::infinity();
  std::uint64_t events = 0;       // read by the reader (last run)
  std::uint64_t max_buffered = 0; // the most the reader was behind (last run)
};

} // namespace

int bench_events(const EventsBenchOptions& options) {
  BatchOptions batch{.max_concurrency = options.concurrency, .policy = FailurePolicy::collect()};
  auto flow =
      FlowBuilder("bench").node("batch", factory_of<CountingBatch>(batch, options.items)).build();
  if (!flow)
    return bench_failed("events", flow.error());
  Runtime runtime{RuntimeConfig{.worker_threads = options.workers}};
  const auto n = static_cast<std::int64_t>(options.items);
  Side plain;
  Side streamed;
  bool ok = true;
  for (std::size_t round = 0; round < options.rounds; ++round) {
    auto [result, wall_s] = timed_run(runtime, *flow);
    if (!result)
      return bench_failed("events", result.error());
    ok = ok && result->state.at("count").as_int() == n;
    plain.best_s = std::min(plain.best_s, wall_s);

    auto t0 = BenchClock::now();
    auto run = runtime.run(*flow, {}, {.stream = StreamMode::debug});
    std::uint64_t read = 0;
    std::uint64_t items = 0;
    std::thread reader([&read, &items, events = run.events()]() mutable {
      while (auto event = events.next()) {
        ++read;
        items += std::holds_alternative<ItemFinished>(event->body) ? 1 : 0;
      }
    });
    auto streamed_result = run.get();
    reader.join(); // the run's time includes the reader catching up with its last events
    auto streamed_s = seconds_since(t0);
    if (!streamed_result)
      return bench_failed("events", streamed_result.error());
    ok = ok && streamed_result->state.at("count").as_int() == n &&
         items == static_cast<std::uint64_t>(n);
    streamed.best_s = std::min(streamed.best_s, streamed_s);
    streamed.events = read;
    streamed.max_buffered = run.events().stats().max_buffered;
  }
  const double per_plain_us = plain.best_s * 1e6 / static_cast<double>(options.items);
  const double per_streamed_us = streamed.best_s * 1e6 / static_cast<double>(options.items);
  return print_report(Value::object({{"scenario", "events"},
                                     {"items", options.items},
                                     {"concurrency", options.concurrency},
                                     {"workers", options.workers},
                                     {"rounds", options.rounds},
                                     {"without_reader_s", plain.best_s},
                                     {"with_reader_s", streamed.best_s},
                                     {"per_item_us_without", per_plain_us},
                                     {"per_item_us_with", per_streamed_us},
                                     {"events_read", streamed.events},
                                     {"max_buffered", streamed.max_buffered},
                                     {"ratio", streamed.best_s / plain.best_s},
                                     {"ok", ok}}),
                      ok);
}

} // namespace actorflow::tools
