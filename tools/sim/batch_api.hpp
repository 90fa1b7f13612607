#pragma once
// OpenAI's Batch API in `actorflow sim`, in OpenAI's wire format, so that a batch provider can
// be tested offline: files (POST /v1/files, GET /v1/files/{id}, GET /v1/files/{id}/content)
// and batch jobs (POST /v1/batches, GET /v1/batches/{id}, GET /v1/batches, POST
// /v1/batches/{id}/cancel).
//
// A job, exactly: POST /v1/batches reads the input file at once. A file that breaks OpenAI's
// rules (a line that is not JSON, a custom_id missing or used twice, a method other than POST,
// a url other than the batch's endpoint, a body that is no object, two models, no line, more
// than 50,000 lines), or whose lines' reserved tokens (cost_of, as the online limiter counts
// them) plus those of the unfinished jobs exceed `enqueued_tokens`, makes the job "failed"
// with `errors` naming the code and the line. Otherwise the job is "in_progress" and, with
// `delay` D, answers its line i of n (0-based, in input order) at created + D*(i+1)/n, then is
// "completed" at created + D: the lines answered 200 go to the output file, the others (4xx,
// 5xx) to the error file; either is null when it would be empty. A line is answered by the
// online endpoint's own code, but never through its rate limiter; it fails with 400 when its
// body holds the text SIM_FAIL_LINE or does not decode, and with 500 when the fault draw hits
// it (`line_fault_rate`, drawn for each line in input order from `seed` when the job is
// created, so the same file fails the same lines). A job not completed by created + `expire`
// (0: never) is "expired" (only the first `expire_jobs` jobs, when that is not 0, so that a
// client's resubmission of what expired can be tested), and a cancelled one is "cancelled" at once:
// the lines answered by then are in the output and error files, the rest in the error file with
// error code batch_expired or batch_cancelled, counted as failed.
//
// Faults of submission, for a client's retries: the first `fail_uploads` uploads answer 503
// and store nothing; the first `lose_creates` creates make their job (counted) but answer 503,
// as a create whose answer was lost would look to the client. With `fail_late`, a job refused
// at creation (validation, enqueued tokens) is answered "validating", as OpenAI answers: its
// failure shows when it is next looked at.
//
// No thread runs a job: its state is a function of time, brought up to date (lines answered,
// files written, tokens counted) whenever it is looked at (retrieved, listed, cancelled, by
// /stats, by a create that checks the enqueued tokens), so what a client sees is what a worker
// would have produced. The batch's timestamps are those of the schedule, not of the look.

#include "providers/openai_wire.hpp"
#include "sim/answers.hpp"
#include "sim/counters.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace actorflow::tools::sim {

/// How the jobs run (SimOptions' batch_* fields, checked by SimServer::start).
struct BatchOptions {
  std::chrono::milliseconds delay{1000}; ///< a job's lines are spread over this long
  double line_fault_rate = 0.0;          ///< chance that a line fails with 500
  std::chrono::milliseconds expire{0};   ///< a job unfinished after this long expires; 0: never
  std::uint64_t expire_jobs = 0;     ///< only the first this many jobs expire (0: all): resubmits
  std::uint64_t enqueued_tokens = 0; ///< reserved tokens of unfinished jobs at most; 0: any
  std::uint64_t seed = 42;           ///< of the line fault draws
  std::uint64_t fail_uploads = 0;    ///< the first this many uploads answer 503, storing nothing
  std::uint64_t lose_creates = 0;    ///< the first this many creates make the job but answer 503
  bool fail_late = false; ///< a refused job's create answers "validating"; retrieve says failed
};

/// What the Batch API borrows from the online endpoints, so that a line is answered as the
/// same call online would be and authorized the same way.
struct OnlineEndpoints {
  std::function<Answer(const wire::ChatCall&)> chat;
  std::function<Answer(const EmbedRequest&)> embed;
  /// Answers 401 and returns false when the request is not authorized.
  std::function<bool(const httplib::Request&, httplib::Response&)> authorize;
};

/// The endpoints and the files and jobs they keep, in memory until the server ends.
/// Thread-safe: handlers run on httplib's pool threads, and one mutex guards the files and
/// jobs (a look that answers many lines holds it while it does). The counters are atomic.
class BatchApi {
public:
  using Clock = std::chrono::steady_clock;

  /// Lines answered add their usage to `counters`' prompt_tokens and completion_tokens;
  /// `counters` must outlive this.
  BatchApi(BatchOptions options, OnlineEndpoints online, Counters& counters);
  ~BatchApi(); // out of line: BatchStore is complete only in batch_api.cpp
  BatchApi(const BatchApi&) = delete;
  BatchApi& operator=(const BatchApi&) = delete;

  /// Registers the endpoints on `server`, which must not outlive this.
  void route(httplib::Server& server);
  /// Counts a request for /stats if `path` is one of the Batch API's (/v1/files*,
  /// /v1/batches*), whether or not it is then answered by an endpoint.
  void count_request(std::string_view path);
  /// The "batch" object of /stats, every job brought up to `now` first.
  [[nodiscard]] nlohmann::json stats(Clock::time_point now);
  /// Zeroes the counters; the files and jobs stay.
  void reset_stats();

private:
  std::unique_ptr<struct BatchStore> store_;
};

} // namespace actorflow::tools::sim
