#pragma once
// The files and jobs behind `actorflow sim`'s Batch API (see sim/batch_api.hpp for how a job
// runs): the stored types, the helpers the endpoints and the jobs share, and `BatchStore`,
// whose endpoints are in batch_api.cpp and whose job logic is in batch_store.cpp. Internal.

#include <actorflow/llm.hpp>

#include "providers/openai_wire.hpp"
#include "sim/answers.hpp"
#include "sim/batch_api.hpp"
#include "sim/counters.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow::tools::sim {

using json = nlohmann::json;
using Clock = BatchApi::Clock;
using Wall = std::chrono::system_clock;
using std::chrono::milliseconds;

inline constexpr std::string_view chat_endpoint = "/v1/chat/completions";
inline constexpr std::string_view embed_endpoint = "/v1/embeddings";
// OpenAI's limits on a batch input file.
inline constexpr std::size_t max_file_bytes = std::size_t{200} * 1024 * 1024;
inline constexpr std::size_t max_requests = 50'000;
inline constexpr std::string_view fail_marker = "SIM_FAIL_LINE";
inline constexpr const char* file_type =
    "application/octet-stream"; // as OpenAI serves file content

inline std::int64_t unix_seconds(Wall::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

inline json unix_or_null(const std::optional<Wall::time_point>& at) {
  return at ? json(unix_seconds(*at)) : json(nullptr);
}

inline json string_or_null(const std::optional<std::string>& text) {
  return text ? json(*text) : json(nullptr);
}

// The number with thousands separators, as OpenAI writes limits: 2,000,000.
inline std::string with_commas(std::uint64_t number) {
  auto digits = std::to_string(number);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

inline const json* member(const json& object, const char* name) {
  auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

inline void invalid_request(httplib::Response& res, int status, std::string_view message,
                            std::string_view code = {}) {
  answer_error(res, status, message, "invalid_request_error", code);
}

inline void answer_json(httplib::Response& res, const json& body) {
  res.set_content(body.dump(), json_type);
}

// A JSON object of what the request's body sends, or none after answering 400.
inline std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) {
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    invalid_request(res, 400,
                    "We could not parse the JSON body of your request: expected an "
                    "object.");
    return std::nullopt;
  }
  return body;
}

struct StoredFile {
  std::string id;
  std::string filename;
  std::string purpose;
  std::int64_t created_at = 0;
  std::shared_ptr<const std::string> content;
};

enum class JobStatus : std::uint8_t { in_progress, completed, failed, expired, cancelled };
inline constexpr std::array<std::string_view, 5> status_names{"in_progress", "completed", "failed",
                                                              "expired", "cancelled"};

inline std::string name_of(JobStatus status) {
  return std::string(status_names[static_cast<std::size_t>(status)]);
}

// A request of the input file, kept as its place in the file (which outlives the job).
struct Line {
  std::string custom_id;
  std::size_t offset = 0;
  std::size_t size = 0;
  bool fault = false; // drawn when the job was created, in input order
};

struct Job {
  std::string id;
  std::string endpoint;
  std::string input_file_id;
  std::string completion_window;
  json metadata;     // null or an object of strings
  json errors;       // null, or {object: list, data: [...]} when the input was refused
  std::string model; // of the lines (OpenAI runs a batch on one model)
  std::shared_ptr<const std::string> input;
  std::vector<Line> lines;  // emptied once the job is finished
  std::uint64_t number = 0; // in order of creation, from 1
  std::size_t total = 0;    // request_counts: total, completed and failed
  std::size_t completed = 0;
  std::size_t failed = 0;
  std::uint64_t reserved_tokens = 0; // what the lines reserve, for the enqueued-token limit
  Clock::time_point created;
  Wall::time_point created_wall;
  JobStatus status = JobStatus::in_progress;
  std::size_t done = 0;     // lines answered, in input order
  std::string output;       // the output file's lines so far
  std::string error_output; // the error file's
  std::optional<std::string> output_file_id, error_file_id;
  std::optional<Wall::time_point> finalizing_at, completed_at, failed_at, expired_at, cancelling_at,
      cancelled_at;
};

// What a line was answered.
struct LineAnswer {
  int status = 200;
  std::string body; // JSON, as the online endpoint sends it
  Usage usage;
};

inline LineAnswer line_error(int status, std::string_view message, std::string_view type) {
  return {status, wire::encode_error(message, type), {}};
}

// Files and jobs keyed by their number: ids are "file-N" and "batch_N", so the map's order is
// the order of creation.
inline std::optional<std::uint64_t> number_of(std::string_view prefix, std::string_view id) {
  if (!id.starts_with(prefix))
    return std::nullopt;
  return wire::parse_count(id.substr(prefix.size()));
}

template <class T>
T* find_by_id(std::map<std::uint64_t, T>& items, std::string_view prefix, std::string_view id) {
  auto number = number_of(prefix, id);
  if (!number)
    return nullptr;
  auto found = items.find(*number);
  return found != items.end() && found->second.id == id ? &found->second : nullptr;
}

struct BatchStore {
  BatchStore(BatchOptions opts, OnlineEndpoints endpoints, Counters& online_counters)
      : options(opts), online(std::move(endpoints)), counters(online_counters) {}

  const BatchOptions options;
  const OnlineEndpoints online;
  Counters& counters; // the online ones: lines add their tokens
  BatchCounters stats;

  std::mutex mutex;
  // Guarded by mutex:
  std::map<std::uint64_t, StoredFile> files;
  std::map<std::uint64_t, Job> jobs;
  std::uint64_t next_file = 1;
  std::uint64_t next_job = 1;
  std::uint64_t next_request = 1;   // of batch_req_ and request ids
  std::uint64_t uploads_failed = 0; // answered 503 so far (BatchOptions::fail_uploads)
  std::uint64_t creates_lost = 0;   // created but answered 503 so far (lose_creates)

  // -- endpoints ---------------------------------------------------------------------------
  void upload(const httplib::Request& req, httplib::Response& res);
  void get_file(const httplib::Request& req, httplib::Response& res);
  void file_content(const httplib::Request& req, httplib::Response& res);
  void create(const httplib::Request& req, httplib::Response& res);
  void retrieve(const httplib::Request& req, httplib::Response& res);
  void cancel(const httplib::Request& req, httplib::Response& res);
  void list(const httplib::Request& req, httplib::Response& res);

  // The job the path names (its first match), or null after answering 404; mutex held.
  Job* job_named(const httplib::Request& req, httplib::Response& res);

  // -- jobs (mutex held) -------------------------------------------------------------------
  void read_input(Job& job);
  [[nodiscard]] std::size_t lines_due(const Job& job, Clock::time_point at) const;
  void advance(Job& job, Clock::time_point now);
  void advance_all(Clock::time_point now);
  void answer_next_line(Job& job);
  [[nodiscard]] LineAnswer answer(const Job& job, const Line& line) const;
  // The lines not answered yet go to the error file with `code`.
  void close_lines(Job& job, std::string_view code, std::string_view message);
  void finish(Job& job, JobStatus status, Wall::time_point at);
  std::string add_file(std::string filename, std::string purpose, std::string content,
                       Wall::time_point at);
  [[nodiscard]] json file_object(const StoredFile& file) const;
  [[nodiscard]] json batch_object(const Job& job, bool cancelling = false) const;
};

} // namespace actorflow::tools::sim
