#pragma once
// `actorflow sim`: an OpenAI-compatible HTTP server for tests and benchmarks. It answers chat
// completions and embeddings with the embedded local model, and can play the parts of a real
// provider that are hard to get on demand: latency, rate limits (429 with retry-after),
// a wrong API key, and faults (5xx, dropped connections, garbled or incomplete answers, stalls).
//
// The rate limits, exactly: --rpm and --tpm are token buckets (one for requests, one for
// tokens) that refill continuously at limit/60 per second up to a capacity of limit * burst_s
// (at least 1), and start full. A call costs 1 request and `reserved_tokens(request)` tokens
// (llm.hpp: a chat's prompt estimate plus max_tokens, an embedding call's estimate of its
// texts), as the runtime's resource controllers count it. A call is admitted when the request
// bucket holds 1 and the token bucket holds min(cost, capacity); it then takes its whole cost,
// so the token bucket may go negative. Otherwise it is answered 429 at once and takes nothing.
// With `settle_tokens` (the default), a call answered successfully then corrects the token
// bucket by the tokens its answer actually used (usage.total_tokens) minus its cost: a refund
// (never above capacity) when it used less, a debt when more, as servers that settle on actual
// usage do. Without it (--no-settle) a call keeps its reservation, as OpenAI counts max_tokens
// up front. Calls that fail (faults) keep their charge either way. A call over the whole --tpm
// is refused with 400.
//
// The Batch API (/v1/files, /v1/batches; batch_api.hpp has the details): a job of n lines
// answers line i (0-based) at created + batch_delay_ms*(i+1)/n, each as the online endpoint
// would but outside the rate limits (their tokens count in /stats all the same), and then
// completes; batch_line_fault_rate fails lines with 500, a line whose body holds SIM_FAIL_LINE
// fails with 400, batch_expire_ms expires jobs, and batch_enqueued_tokens fails a job whose
// reserved tokens would put the unfinished jobs over it. Files and jobs stay in memory.

#include <actorflow/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace actorflow::tools {

struct SimOptions {
  std::string bind = "127.0.0.1"; ///< loopback only unless told otherwise
  std::uint16_t port = 0;         ///< 0: a free port, printed on start
  /// httplib holds one pool thread per open keep-alive connection, so this must exceed the
  /// number of connections clients keep open, or the surplus ones wait for a free thread.
  std::size_t threads = 128;

  std::uint64_t latency_ms = 0;
  std::string latency_dist = "fixed"; ///< fixed, uniform (L±J), normal (sd J), exponential
  std::uint64_t latency_jitter_ms = 0;
  std::uint64_t seed = 42; ///< latency and fault draws repeat from run to run

  std::uint64_t requests_per_minute = 0; ///< 0: no limit
  std::uint64_t tokens_per_minute = 0;   ///< 0: no limit
  double burst_s = 1.0; ///< bucket capacity in seconds of refill (at least 1 request or token)
  /// Correct the token bucket by each successful answer's actual usage minus its reserved cost.
  bool settle_tokens = true;

  std::string api_key; ///< empty: no authorization needed

  double fault_rate = 0.0;                                ///< chance that an admitted call fails
  std::string faults = "500,drop,malformed,missing,slow"; ///< the kinds drawn from
  std::uint64_t slow_ms = 30'000; ///< how long the `slow` fault stalls before answering

  /// A batch job's lines are answered evenly over this long (at most a year); 0: at once.
  std::uint64_t batch_delay_ms = 1000;
  /// Chance in [0, 1] that a batch line fails with 500, drawn per line in input order from
  /// `seed`: the same input file fails the same lines.
  double batch_line_fault_rate = 0.0;
  /// A batch job not finished this long after its creation expires (at most a year); 0: never.
  std::uint64_t batch_expire_ms = 0;
  /// Only the first this many batch jobs expire (0: every one): what a client resubmits then
  /// completes.
  std::uint64_t batch_expire_jobs = 0;
  /// The reserved tokens (prompt estimate + max_tokens) of the unfinished batch jobs at most:
  /// a job that would pass it fails at creation (token_limit_exceeded); 0: no limit.
  std::uint64_t batch_enqueued_tokens = 0;
  /// The first this many batch uploads answer 503 and store nothing.
  std::uint64_t batch_fail_uploads = 0;
  /// The first this many batch creates make their job but answer 503 (a lost answer).
  std::uint64_t batch_lose_creates = 0;
  /// A refused batch job's create answers "validating" (as OpenAI's does); "failed" shows on
  /// the next retrieve.
  bool batch_fail_late = false;
};

/// The server. Handlers run on httplib's pool threads; every member is safe to call from any
/// thread, and the counters behind GET /stats are updated atomically.
class SimServer {
public:
  explicit SimServer(SimOptions options);
  ~SimServer(); // stops; out of line because SimState is complete only in sim.cpp
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  /// Validates the options (the only place they are checked: `actorflow sim` only parses
  /// them), binds and serves on background threads. The port it listens on, or bad_input
  /// naming the option (e.g. "--faults: unknown kind 'x' (known: ...)") / unavailable (the
  /// address cannot be bound). Call once.
  [[nodiscard]] Result<std::uint16_t> start();
  /// Stops at once: refuses new connections, wakes calls that wait (latency, slow), closes the
  /// open ones and joins every thread. Idempotent.
  void stop();

private:
  std::unique_ptr<struct SimState> state_; // keeps httplib out of this header
};

/// `actorflow sim`: starts the server, prints {"listening":"ADDR:PORT","port":PORT} on one
/// line, serves until SIGINT or SIGTERM, then stops. The process exit code.
int run_sim(const SimOptions& options);

} // namespace actorflow::tools
