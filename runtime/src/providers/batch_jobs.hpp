#pragma once
// The jobs of the openai_batch provider: a gathered group of calls goes in (dispatch); the
// journal is asked which of them were submitted before (those go back to their jobs), the
// rest are uploaded and created as a job; jobs are polled until they end, and their answers
// (or failures, refusals for the token limit, leftovers) go to the calls. Everything here runs
// on the provider's one worker thread. Internal.

#include <actorflow/openai.hpp>
#include <actorflow/openai_batch.hpp>

#include "providers/batch_client.hpp"
#include "providers/batch_wire.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actorflow::batch {

using Clock = std::chrono::steady_clock;

enum class Endpoint : std::uint8_t { chat, embeddings };

inline const char* url_of(Endpoint endpoint) {
  return endpoint == Endpoint::chat ? "/v1/chat/completions" : "/v1/embeddings";
}

/// One call waiting for its answer: what to send, and whom to tell.
struct Waiting {
  std::string custom_id;
  std::string run_id; ///< its durable run's; empty: not journaled
  Endpoint endpoint = Endpoint::chat;
  std::string body;              ///< the request's JSON, as the online endpoint takes it
  bool looked_up = false;        ///< looked for in the journal already
  std::uint32_t resubmitted = 0; ///< times it went into a new job after one ended without it
  ChatRequest chat_request;
  EmbedRequest embed_request;
  ModelProvider::ChatDone chat_done;
  ModelProvider::EmbedDone embed_done;

  void fail(Error error);
};

/// The calls of one job go to one endpoint and one model.
using GroupKey = std::pair<Endpoint, std::string>;

/// What BatchProviderStats reports of the jobs: written by the worker, read from any thread.
struct JobCounters {
  std::atomic<std::uint64_t> jobs_submitted{0}, jobs_completed{0}, jobs_expired{0},
      jobs_cancelled{0}, jobs_failed{0}, calls_answered{0}, calls_failed{0}, calls_resubmitted{0},
      calls_sent_online{0}, calls_requeued{0}, calls_resumed{0}, jobs_found{0}, jobs_lost{0},
      journal_errors{0};
};

class BatchJobs {
public:
  /// `resubmit` gathers a leftover call again (Leftovers::resubmit).
  BatchJobs(const OpenAiConfig& config, const OpenAiBatchOptions& options, BatchApiClient& api,
            std::function<void(Waiting)> resubmit)
      : config_(config), options_(options), api_(api), resubmit_(std::move(resubmit)) {}

  /// Due calls of `key`: those the journal knows go back to their jobs, the rest into new ones.
  void dispatch(const GroupKey& key, std::vector<Waiting> calls);

  /// Polls the jobs due by now, then sends again what the token limit held.
  void poll_due();

  /// The earliest next poll, if any job is open.
  [[nodiscard]] std::optional<Clock::time_point> next_poll() const;

  /// Fails every call still waiting (the provider stops). Their journal rows are kept: a
  /// resumed run finds their jobs.
  void abandon(const Error& error);

  JobCounters counters;

private:
  struct Job {
    std::string id;      ///< "" while its create's outcome is unknown (looked for at each poll)
    std::string file_id; ///< its input file
    GroupKey key;
    std::multimap<std::string, Waiting> calls; ///< by custom_id (a call resumed here: two)
    Clock::time_point next_poll;
    std::chrono::milliseconds interval;
    std::uint32_t failed_polls = 0; ///< in a row
    std::uint32_t tries = 0;        ///< see Held::tries
    bool refused = false;           ///< failed at the server: it never held enqueued tokens
  };

  /// Calls of a job refused for the enqueued-token limit, waiting for a job of `key` to end.
  struct Held {
    GroupKey key;
    std::string file_id; ///< their input file, for the next create
    std::vector<Waiting> calls;
    std::uint32_t tries = 0; ///< created again with no other job of `key` open
    std::string why;         ///< the last refusal: "job <id> failed: <errors>"
  };

  using Later = std::function<bool(bool failed, const std::string& why)>;

  void fail_all(std::vector<Waiting>& calls, const Error& error, bool keep = false);
  void journal_upload(const std::string& file_id, const GroupKey& key,
                      const std::vector<Waiting>& calls);
  void journal_job_id(const std::string& file_id, const std::string& job_id, const GroupKey& key);
  template <class Calls>
  void forget(const Calls& calls);

  void submit(const GroupKey& key, std::vector<Waiting> calls);
  void create(const GroupKey& key, const std::string& file_id, std::vector<Waiting> calls,
              bool may_exist, std::uint32_t tries = 0);
  void resume(const GroupKey& key, const BatchJobRecord& record, std::vector<Waiting> calls);
  void track(const GroupKey& key, const std::string& id, const std::string& file_id,
             std::vector<Waiting> calls, Clock::time_point first, std::uint32_t tries);
  [[nodiscard]] std::size_t open_jobs(const GroupKey& key) const;
  void refused(const wire::BatchJobStatus& job, const GroupKey& key, const std::string& file_id,
               std::vector<Waiting> calls, std::uint32_t tries);
  void release_held(const std::vector<GroupKey>& freed);

  bool poll(Job& job);
  bool find_unknown(Job& job, const Later& later);
  static std::vector<Waiting> take_calls(Job& job);
  bool leftovers(Job& job, bool expired, const std::string& why);
  bool lost(Job& job, const std::string& why);
  std::optional<Error> complete(const Job& job, Waiting& call, const wire::BatchAnswerLine& answer);
  void leftover(Waiting call, bool expired, const std::string& why);

  const OpenAiConfig& config_;
  const OpenAiBatchOptions& options_;
  BatchApiClient& api_;
  std::function<void(Waiting)> resubmit_;
  std::vector<Job> jobs_;
  std::vector<Held> held_; // refused for the enqueued-token limit: sent when a job ends
};

} // namespace actorflow::batch
