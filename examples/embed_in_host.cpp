// A host program with its own event loop runs 50 flows at once and collects their results
// through completion callbacks, never blocking on a flow. Run: build/release/examples/embed_in_host
#include <actorflow/actorflow.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>

using namespace actorflow;
using namespace std::chrono_literals;

// The host's own loop: a queue of jobs run on the host thread (a GUI or game loop in real life).
class HostLoop {
public:
  void post(std::function<void()> job) {
    {
      std::lock_guard lock{mutex_};
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }
  // Runs jobs until `done()` holds or `limit` passes; false on timeout.
  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      std::unique_lock lock{mutex_};
      if (!wake_.wait_until(lock, until, [&] { return !jobs_.empty(); }))
        return false;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
    }
    return true;
  }

private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
};

int main(int argc, char** argv) {
  CLI::App app{"A host with its own event loop runs 50 flows at once"};
  bool graph = false;
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  // A two-step flow: "fetch" waits 20 ms without holding a thread (a stand-in for I/O), then
  // "square" computes.
  auto fetch = lambda_node({.prep = [](const State& s) { return s.at("x"); },
                            .exec = [](Value x, Context& ctx) -> Task<Value> {
                              co_await ctx.sleep(20ms);
                              co_return x;
                            },
                            .post =
                                [](State& s, const Value&, const Value& x) {
                                  s = s.with("fetched", x);
                                  return std::string(default_action);
                                }});
  auto square = step_node([](State& s) {
    auto x = s.at("fetched").as_int();
    s = s.with("y", x * x);
    return std::string(default_action);
  });
  auto flow = FlowBuilder("square")
                  .node("fetch", fetch)
                  .node("square", square)
                  .edge("fetch", "square")
                  .build();
  if (!flow)
    return 1;
  if (examples::graph_printed(graph, *flow))
    return 0;

  Runtime runtime{RuntimeConfig{.worker_threads = 2}};
  HostLoop loop;
  constexpr int runs = 50;
  int finished = 0;
  std::int64_t sum = 0, failures = 0; // touched only on the host thread

  for (int i = 0; i < runs; ++i) {
    auto handle = runtime.run(*flow, State{}.with("x", i));
    // The callback runs on a runtime thread: hand the result over to the host loop.
    handle.on_complete([&loop, &finished, &sum, &failures](const Result<RunResult>& r) {
      auto y = r.ok() ? r->state.at("y").as_int() : -1;
      loop.post([&finished, &sum, &failures, y] {
        ++finished;
        if (y < 0)
          ++failures;
        else
          sum += y;
      });
    });
  }

  if (!loop.run_until([&] { return finished == runs; }, 30s)) {
    std::cerr << "timed out with " << finished << " of " << runs << " flows done\n";
    return 1;
  }
  std::int64_t expected = 0;
  for (int i = 0; i < runs; ++i)
    expected += static_cast<std::int64_t>(i) * i;
  std::cout << runs << " flows done on the host loop; sum of squares = " << sum << " (expected "
            << expected << "), failures = " << failures << "\n";
  return sum == expected && failures == 0 ? 0 : 1;
}
