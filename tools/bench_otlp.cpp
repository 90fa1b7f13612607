// `actorflow bench otlp`: what exporting spans costs. The fan-out (a no-op exec per item: two
// spans an item, its span and its attempt's) runs without export, then exporting to an
// in-process collector on loopback that answers at once, then to one that never answers.
// Sides alternate, so all see the same machine; the best run of each counts. The exporter's
// cost per span is the CPU this process spent beyond the plain run (the run's own threads
// timing spans, and the sender thread's encoding and posting, shutdown's flush included),
// over the spans exported; the collectors run in child processes, so their CPU is not in it.
#include <actorflow/actorflow.hpp>

#include "bench.hpp"
#include "bench_common.hpp"

#include <httplib.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <limits>
#include <mutex>
#include <thread>

namespace actorflow::tools {

namespace {

/// An OTLP/HTTP collector on 127.0.0.1 that answers 200 at once, or (stalled) holds every
/// request until it is stopped.
class Collector {
public:
  explicit Collector(bool stalled) : stalled_(stalled) {
    server_.Post("/v1/traces", [this](const httplib::Request&, httplib::Response& response) {
      if (stalled_) {
        std::unique_lock lock{mutex_};
        released_.wait(lock, [this] { return stopping_; });
      }
      response.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1"); // listening: connections wait in its backlog
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Collector() {
    {
      std::lock_guard lock{mutex_};
      stopping_ = true;
    }
    released_.notify_all();
    server_.stop();
    thread_.join();
  }
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  [[nodiscard]] int port() const { return port_; }

private:
  bool stalled_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool stopping_ = false; // guarded by mutex_
};

/// A Collector in a child process of its own, so that the CPU it spends receiving is not
/// counted as the exporter's. Forked before this process starts any thread.
class CollectorProcess {
public:
  explicit CollectorProcess(bool stalled) {
    int fds[2];
    if (::pipe(fds) != 0)
      return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      Collector collector{stalled};
      const int port = collector.port();
      [[maybe_unused]] auto written = ::write(fds[1], &port, sizeof port);
      ::close(fds[1]);
      for (;;)
        ::pause(); // until the parent's SIGKILL
    }
    ::close(fds[1]);
    if (pid_ > 0 && ::read(fds[0], &port_, sizeof port_) != sizeof port_)
      port_ = 0;
    ::close(fds[0]);
  }
  ~CollectorProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  CollectorProcess(const CollectorProcess&) = delete;
  CollectorProcess& operator=(const CollectorProcess&) = delete;

  [[nodiscard]] bool ok() const { return pid_ > 0 && port_ > 0; }
  [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
  pid_t pid_ = -1;
  int port_ = 0;
};

struct Side {
  double best_wall_s = std::numeric_limits<double>::infinity();
  double best_cpu_us = std::numeric_limits<double>::infinity();
  OtlpStats stats; // the last run's
};

/// One run in a fresh Runtime (exporting to `endpoint` unless it is empty; `traced`: its
/// spans timed for a no-op on_span, without export): the run's wall time, and the process's
/// CPU over the run and the shutdown that flushes the exporter.
Result<void> measure(const Flow& flow, const OtlpBenchOptions& options, const std::string& endpoint,
                     bool stalled, bool traced, Side& side, std::int64_t want) {
  RuntimeConfig config{.worker_threads = options.workers};
  config.otlp.endpoint = endpoint;
  config.otlp.max_queue = options.max_queue;
  // The answering collector gets every span before shutdown gives up; the stalled one none.
  config.otlp.shutdown_timeout =
      stalled ? std::chrono::milliseconds{options.shutdown_timeout_ms} : std::chrono::minutes{1};
  Runtime runtime{std::move(config)};
  const double cpu0 = process_cpu_us();
  RunOptions run_options;
  if (traced)
    run_options.on_span = [](const SpanEvent&) {};
  auto [result, wall_s] = timed_run(runtime, flow, std::move(run_options));
  if (!result)
    return result.error();
  if (result->state.at("count").as_int() != want)
    return Error{Errc::internal, "otlp bench: the batch lost items"};
  runtime.shutdown();
  side.best_cpu_us = std::min(side.best_cpu_us, process_cpu_us() - cpu0);
  side.best_wall_s = std::min(side.best_wall_s, wall_s);
  side.stats = runtime.otlp_stats();
  return {};
}

} // namespace

int bench_otlp(const OtlpBenchOptions& options) {
  BatchOptions batch{.max_concurrency = options.concurrency, .policy = FailurePolicy::collect()};
  auto flow =
      FlowBuilder("bench").node("batch", factory_of<CountingBatch>(batch, options.items)).build();
  if (!flow)
    return bench_failed("otlp", flow.error());
  const auto want = static_cast<std::int64_t>(options.items);
  Side plain;
  Side traced; // spans timed, not exported: what export adds beyond timing them
  Side exported;
  Side stalled;
  CollectorProcess collector{false};
  CollectorProcess stalling{true};
  if (!collector.ok() || !stalling.ok())
    return bench_failed("otlp", Error{Errc::unavailable, "otlp bench: no collector process"});
  for (std::size_t round = 0; round < options.rounds; ++round) {
    for (auto [endpoint, side] :
         {std::pair{std::string(), &plain}, std::pair{std::string(), &traced},
          std::pair{collector.endpoint(), &exported}, std::pair{stalling.endpoint(), &stalled}})
      if (auto measured =
              measure(*flow, options, endpoint, side == &stalled, side == &traced, *side, want);
          !measured)
        return bench_failed("otlp", measured.error());
  }
  const auto spans = exported.stats.exported;
  const bool ok = spans >= 2 * options.items && exported.stats.dropped == 0 &&
                  exported.stats.failed == 0 && stalled.stats.exported == 0;
  const double per_span_ns =
      spans == 0 ? 0
                 : (exported.best_cpu_us - plain.best_cpu_us) * 1e3 / static_cast<double>(spans);
  const double timing_per_span_ns =
      spans == 0 ? 0 : (traced.best_cpu_us - plain.best_cpu_us) * 1e3 / static_cast<double>(spans);
  const double wall_per_span_ns =
      spans == 0 ? 0
                 : (exported.best_wall_s - plain.best_wall_s) * 1e9 / static_cast<double>(spans);
  return print_report(Value::object({{"scenario", "otlp"},
                                     {"items", options.items},
                                     {"concurrency", options.concurrency},
                                     {"workers", options.workers},
                                     {"rounds", options.rounds},
                                     {"spans", spans},
                                     {"requests", exported.stats.requests},
                                     {"without_export_s", plain.best_wall_s},
                                     {"with_export_s", exported.best_wall_s},
                                     {"stalled_collector_s", stalled.best_wall_s},
                                     {"wall_ratio", exported.best_wall_s / plain.best_wall_s},
                                     {"stall_wall_ratio", stalled.best_wall_s / plain.best_wall_s},
                                     {"stalled_dropped", stalled.stats.dropped},
                                     {"cpu_without_us", plain.best_cpu_us},
                                     {"cpu_with_us", exported.best_cpu_us},
                                     {"cost_per_span_ns", per_span_ns},
                                     {"cpu_traced_us", traced.best_cpu_us},
                                     {"timing_per_span_ns", timing_per_span_ns},
                                     {"traced_s", traced.best_wall_s},
                                     {"wall_per_span_ns", wall_per_span_ns},
                                     {"ok", ok}}),
                      ok);
}

} // namespace actorflow::tools
