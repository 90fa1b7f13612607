#pragma once
/// The `openai_batch` provider: ordinary model calls (`ctx.llm("batch").chat(...)`) answered
/// through OpenAI's Batch API (also vLLM's `run-batch` format, and `actorflow sim`), which
/// OpenAI prices at half the online rate. Node code does not change at all: a call suspends its
/// node as any model call does, and resumes when its job has its answer.
///
/// How calls travel: calls of every node and run are gathered per (endpoint, model), up to
/// `max_requests` per job or until the first of them has waited `max_wait`; written as JSONL
/// (one line per call, `custom_id` the call's id); uploaded (POST /files, purpose "batch");
/// submitted (POST /batches); polled (GET /batches/{id}) with a back-off that doubles from
/// `poll_initial` to `poll_max`, with jitter; and when the job has ended, its output and error
/// files are read and each waiting call is completed with its own line: a line's error becomes
/// that call's typed error (429: rate_limited, 5xx: server_error, else bad_request), the rest
/// succeed. One thread per provider does all of this, however many jobs are open.
///
/// A job that expires or is cancelled: the lines it answered are used; the calls it did not
/// answer go to a new job, to the `online` provider, or fail, as `leftovers` says, and
/// `BatchProviderStats` counts which.
///
/// Durable jobs: give `journal` the Runtime's checkpoint store. Each job's input file, job id
/// and calls (by `custom_id`, a hash of the call's `CallOrigin` and request, so the same call of
/// a resumed run has the same id) are journaled before and after the job is created. A call of
/// a durable run that was submitted before, by this process or by one that was killed, is
/// answered from that job (polled again, or its output file read again), never submitted a
/// second time; a create whose answer was lost is found among the server's jobs by its input
/// file before it is sent again; a create whose outcome stays unknown after its retries is
/// looked for again at each poll (its calls wait), and a provider stopped meanwhile keeps its
/// calls journaled, so a resumed run finds the job if it exists. Calls whose line failed are
/// forgotten (a retry is submitted anew); the rest are kept until their run is deleted from the
/// store. `journal` must be the Runtime's own checkpoint store (`RuntimeConfig::checkpoints`): rows
/// go with their run. Items that run on cluster nodes are not journaled (their calls have no origin
/// there).
///
/// A job (or its answer files) that the server no longer knows when it is polled: its calls are
/// leftovers, as for an expired job.
///
/// Costs: `batched()` is true, so `RuntimeConfig::prices` price these calls with the price's
/// batch discount. Limits: give the key a `Limits::enqueued_tokens` to keep the tokens of
/// unfinished calls within the provider's enqueued-token limit. A job the server refuses for
/// that limit (token_limit_exceeded, at the create or on a later look) is created again from
/// the same file when a job of the provider for the same model ends; with none open (nothing
/// of ours would free tokens) it is tried three more times, then its calls fail (bad_request
/// naming the limit).

#include <actorflow/checkpoint.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/openai.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace actorflow {

struct OpenAiBatchOptions {
  /// Calls in one job at most (OpenAI takes 50,000 per file).
  std::size_t max_requests = 50'000;
  /// How long the first call of a job waits for others before the job is submitted.
  std::chrono::milliseconds max_wait = std::chrono::seconds(2);
  /// The job's completion window (OpenAI accepts "24h").
  std::string completion_window = "24h";
  /// Polls of a submitted job: the first after `poll_initial`, then each interval doubled up
  /// to `poll_max`, each drawn within +-`poll_jitter` of itself.
  std::chrono::milliseconds poll_initial = std::chrono::seconds(5);
  std::chrono::milliseconds poll_max = std::chrono::minutes(5);
  double poll_jitter = 0.2;
  /// An upload or create that fails for what a retry may cure (no connection, a timeout, 429,
  /// 5xx) is tried again up to this many times, after `submit_backoff`, doubled each time
  /// (with the poll jitter). The provider's thread waits meanwhile, so polls wait too.
  std::uint32_t submit_retries = 5;
  std::chrono::milliseconds submit_backoff = std::chrono::seconds(1);
  /// Durable jobs (see above): the checkpoint store of the runs whose calls come here.
  CheckpointStorePtr journal{};

  /// What becomes of calls that an expired or cancelled job did not answer.
  enum class Leftovers : std::uint8_t {
    resubmit, ///< into the next job
    online,   ///< to `online`, as ordinary calls
    fail,     ///< fail with `timeout` (expired) or `cancelled`
  };
  Leftovers leftovers = Leftovers::resubmit;
  /// For `Leftovers::online`: where leftovers go (e.g. an openai provider on the same key).
  ModelProviderPtr online{};
};

/// What a batch provider did so far (also in `actorflow bench batch-api`).
struct BatchProviderStats {
  std::uint64_t jobs_submitted = 0;
  std::uint64_t jobs_completed = 0;
  std::uint64_t jobs_expired = 0;
  std::uint64_t jobs_cancelled = 0;
  std::uint64_t jobs_failed = 0;    ///< refused by the server (validation, enqueued-token limit)
  std::uint64_t calls_answered = 0; ///< completed from an output file (successes)
  std::uint64_t calls_failed = 0;   ///< completed with an error (their line's, or their job's)
  std::uint64_t calls_resubmitted = 0;
  std::uint64_t calls_sent_online = 0;
  std::uint64_t calls_requeued = 0; ///< held back by the enqueued-token limit, then resubmitted
  std::uint64_t calls_resumed = 0;  ///< found in the journal: answered by an earlier job
  std::uint64_t jobs_found = 0;     ///< created before, found by their input file
  std::uint64_t jobs_lost = 0; ///< unknown to the server when polled: their calls are leftovers
  std::uint64_t submit_retries = 0; ///< uploads and creates tried again
  /// Journal reads and writes that failed: a failed write leaves the call unjournaled; a failed
  /// read fails the call (unavailable), since submitting it could pay for it twice.
  std::uint64_t journal_errors = 0;
  std::uint64_t http_requests = 0; ///< uploads, creates, polls, lists, downloads
};

class OpenAiBatchProvider final : public ModelProvider {
public:
  /// Starts the provider's thread. A malformed config is reported by every call as bad_input.
  OpenAiBatchProvider(OpenAiConfig config, OpenAiBatchOptions options);
  /// Stops the thread; calls still waiting complete with `Errc::cancelled` (jobs already
  /// submitted go on at the server: their answers are not read).
  ~OpenAiBatchProvider() override;
  OpenAiBatchProvider(const OpenAiBatchProvider&) = delete;
  OpenAiBatchProvider& operator=(const OpenAiBatchProvider&) = delete;

  [[nodiscard]] std::string_view kind() const noexcept override { return "openai_batch"; }
  [[nodiscard]] std::string default_model() const override;
  [[nodiscard]] std::string default_embedding_model() const override;
  [[nodiscard]] bool supports_json_schema() const noexcept override;
  [[nodiscard]] bool batched() const noexcept override { return true; }
  /// Token streaming is not possible through a batch: `on_token` is never called.
  void chat(ChatRequest request, ChatDone done) override;
  void embed(EmbedRequest request, EmbedDone done) override;

  [[nodiscard]] BatchProviderStats stats() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `std::make_shared<OpenAiBatchProvider>(config, options)`: a ModelProviderPtr for the
/// registry that still reaches `stats()`.
[[nodiscard]] std::shared_ptr<OpenAiBatchProvider>
make_openai_batch_provider(OpenAiConfig config, OpenAiBatchOptions options = {});

} // namespace actorflow
