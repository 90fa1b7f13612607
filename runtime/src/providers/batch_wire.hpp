#pragma once
// OpenAI's Batch API on the client side: the JSONL input file (one request per line, each with
// its custom_id), the lines of the output and error files, and the batch object. Internal;
// the sim has its own server side.

#include <actorflow/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::wire {

/// One request of an input file: `body` is the JSON text of the request as the online
/// endpoint takes it.
struct BatchRequestLine {
  std::string custom_id;
  std::string url; ///< "/v1/chat/completions" or "/v1/embeddings"
  std::string body;
  friend bool operator==(const BatchRequestLine&, const BatchRequestLine&) = default;
};

/// The input file: one JSON object per line, each line ending in a newline.
[[nodiscard]] std::string encode_batch_input(const std::vector<BatchRequestLine>& lines);
/// The inverse (for tests and tools); errors name the line (1-based).
[[nodiscard]] Result<std::vector<BatchRequestLine>> decode_batch_input(std::string_view jsonl);

/// One line of an output or error file: the answer to one request (status and body as the
/// online endpoint would have answered), or an error without one (batch_expired,
/// batch_cancelled).
struct BatchAnswerLine {
  std::string custom_id;
  int status = 0;         ///< the response's status_code; 0: no response
  std::string body;       ///< the response's body, JSON text
  std::string error_code; ///< of `error` when there is no response
  std::string error_message;
};

/// Every line of an output or error file. A line that does not decode is skipped and its
/// problem (naming the line) added to `problems`: one bad line never loses the others.
[[nodiscard]] std::vector<BatchAnswerLine> decode_batch_answers(std::string_view jsonl,
                                                                std::vector<std::string>& problems);

/// What a poll needs of a batch object.
struct BatchJobStatus {
  std::string id;
  std::string status;         ///< validating, in_progress, finalizing, completed, failed, ...
  std::string input_file_id;  ///< what it reads: how a job whose create went unanswered is found
  std::string output_file_id; ///< empty: none
  std::string error_file_id;  ///< empty: none
  std::uint64_t total = 0, completed = 0, failed = 0;
  std::string errors; ///< a failed batch's errors, "code (line N): message; ..."
  /// Whether the batch will change no more.
  [[nodiscard]] bool ended() const noexcept {
    return status == "completed" || status == "failed" || status == "expired" ||
           status == "cancelled";
  }
};
[[nodiscard]] Result<BatchJobStatus> decode_batch_job(std::string_view body);

/// A page of GET /batches: newest first; the next page is `?after=<last_id>`.
struct BatchJobPage {
  std::vector<BatchJobStatus> jobs;
  bool has_more = false;
  std::string last_id;
};
[[nodiscard]] Result<BatchJobPage> decode_batch_list(std::string_view body);

/// The id of an uploaded file (a File object).
[[nodiscard]] Result<std::string> decode_file_id(std::string_view body);

/// A multipart/form-data body uploading `content` as a batch input file named `filename`;
/// `boundary` must not occur in `content` (the caller picks one).
[[nodiscard]] std::string encode_batch_upload(std::string_view content, std::string_view filename,
                                              std::string_view boundary);

} // namespace actorflow::wire
