// Load on one I/O thread: 1,000 requests in flight at once against a sim with a thread per
// connection. It runs alone (see tests/CMakeLists.txt): its 1,100 server threads would starve
// whatever ran beside it, and starve themselves.
#include <actorflow/openai.hpp>

#include "support/sim_process.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

using namespace actorflow;
using namespace actorflow::test;
using namespace std::chrono_literals;

TEST_CASE("1,000 concurrent requests complete on one I/O thread") {
  SimProcess sim({"--latency-ms", "2000", "--threads", "1100"}); // long enough to overlap all
  OpenAiConfig config;
  config.base_url = sim.base_url();
  config.model = "local";
  // Generous: on a loaded machine (and under the sanitizers) 1,100 server threads start and
  // answer slowly; what this test checks is concurrency, not speed.
  config.timeout = 90s;
  config.connect_timeout = 60s;
  config.max_connections = 0; // one connection per request: all 1,000 at the server at once
  OpenAiProvider provider(config);
  constexpr int n = 1000;
  std::mutex mutex;
  std::condition_variable cv;
  int ok = 0;
  int done = 0;
  std::string first_error;
  for (int i = 0; i < n; ++i)
    provider.chat(ChatRequest::user("request " + std::to_string(i)),
                  [&](ModelOutcome<ChatResponse> outcome) {
                    std::lock_guard guard(mutex);
                    ok += outcome.result.ok() ? 1 : 0;
                    if (!outcome.result.ok() && first_error.empty())
                      first_error = outcome.result.error().to_string();
                    ++done;
                    cv.notify_one();
                  });
  {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, 110s, [&] { return done == n; }));
  }
  CHECK_MESSAGE(ok == n, first_error);
  auto stats = provider.stats();
  CHECK(stats.completed == n);
  CHECK(stats.io_threads == 1);
  CHECK(stats.max_in_flight == n);
  CHECK(sim.stats()["max_in_flight"].get<int>() >= n * 9 / 10); // really concurrent at the server
}
