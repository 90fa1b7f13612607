#pragma once
// The Batch API's endpoints as the openai_batch provider uses them: upload an input file,
// create a job, find a job by its input file, retrieve a job, read a file. Each call blocks
// the provider's thread on one libcurl client (the thread does nothing else meanwhile), so a
// job never holds a thread of its own. Uploads and creates are retried where a retry may cure;
// a create that may have reached the server is looked for before it is sent again, so a job is
// never created twice. Internal.

#include <actorflow/openai.hpp>
#include <actorflow/openai_batch.hpp>
#include <actorflow/result.hpp>

#include "providers/batch_wire.hpp"
#include "providers/http_client.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>

namespace actorflow::batch {

class BatchApiClient {
public:
  /// Waits `delay` unless the provider stops first; false when it stopped.
  using Pause = std::function<bool(std::chrono::milliseconds delay)>;

  /// `config` checked and without a trailing slash.
  BatchApiClient(const OpenAiConfig& config, const OpenAiBatchOptions& options, Pause pause);

  /// Ends a request in flight as cancelled (from any thread), and every later one.
  void stop() { client_.stop(); }

  /// The id of the uploaded JSONL `jsonl`.
  [[nodiscard]] Result<std::string> upload(const std::string& jsonl);

  struct Created {
    wire::BatchJobStatus job;
    bool found = false; ///< created by an earlier try whose answer was lost, found by its file
  };
  /// Creates the job reading `file_id` for `endpoint`. `may_exist`: a create of it may have
  /// reached the server before (look for it first). On an error, `may_exist` says whether the
  /// job may exist all the same (a create went unanswered, or a look for it failed): its
  /// calls must not be submitted again elsewhere.
  [[nodiscard]] Result<Created> create(const std::string& file_id, const std::string& endpoint,
                                       bool& may_exist);

  /// The job reading `file_id`, looked for among the newest jobs; none when there is none.
  [[nodiscard]] Result<std::optional<wire::BatchJobStatus>>
  find_by_file(const std::string& file_id);

  /// One look at job `id`; `gone` is set when the server does not know it (404).
  [[nodiscard]] Result<wire::BatchJobStatus> retrieve(const std::string& id, bool& gone);

  /// The content of file `id`; `gone` is set when the server does not know it (404).
  [[nodiscard]] Result<std::string> read_file(const std::string& id, bool& gone);

  [[nodiscard]] std::chrono::milliseconds jittered(std::chrono::milliseconds interval);

  std::atomic<std::uint64_t> http_requests{0};
  std::atomic<std::uint64_t> retries{0};

private:
  http::Response send(http::Request request);
  // The error of an answer other than 200 (the key scrubbed from it), or none.
  [[nodiscard]] std::optional<Error> failure(const http::Response& r,
                                             const std::string& where) const;
  // Waits before retry number `tried` (0-based); false when the provider stopped meanwhile.
  bool back_off(std::uint32_t tried);

  const OpenAiConfig& config_;
  const OpenAiBatchOptions& options_;
  Pause pause_;
  std::mt19937_64 rng_{std::random_device{}()};
  http::Client client_;
};

} // namespace actorflow::batch
