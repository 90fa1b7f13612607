#include "sim/batch_api.hpp"

#include <actorflow/llm.hpp>

#include "providers/openai_wire.hpp"
#include "sim/answers.hpp"
#include "sim/counters.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace actorflow::tools::sim {

namespace {

using json = nlohmann::json;
using Clock = BatchApi::Clock;
using Wall = std::chrono::system_clock;
using std::chrono::milliseconds;

constexpr std::string_view chat_endpoint = "/v1/chat/completions";
constexpr std::string_view embed_endpoint = "/v1/embeddings";
// OpenAI's limits on a batch input file.
constexpr std::size_t max_file_bytes = std::size_t{200} * 1024 * 1024;
constexpr std::size_t max_requests = 50'000;
constexpr std::string_view fail_marker = "SIM_FAIL_LINE";
constexpr const char* file_type = "application/octet-stream"; // as OpenAI serves file content

std::int64_t unix_seconds(Wall::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

json unix_or_null(const std::optional<Wall::time_point>& at) {
  return at ? json(unix_seconds(*at)) : json(nullptr);
}

json string_or_null(const std::optional<std::string>& text) {
  return text ? json(*text) : json(nullptr);
}

// The number with thousands separators, as OpenAI writes limits: 2,000,000.
std::string with_commas(std::uint64_t number) {
  auto digits = std::to_string(number);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

const json* member(const json& object, const char* name) {
  auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

void invalid_request(httplib::Response& res, int status, std::string_view message,
                     std::string_view code = {}) {
  answer_error(res, status, message, "invalid_request_error", code);
}

void answer_json(httplib::Response& res, const json& body) {
  res.set_content(body.dump(), json_type);
}

// A JSON object of what the request's body sends, or none after answering 400.
std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) {
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
constexpr std::array<std::string_view, 5> status_names{"in_progress", "completed", "failed",
                                                       "expired", "cancelled"};

std::string name_of(JobStatus status) {
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

LineAnswer line_error(int status, std::string_view message, std::string_view type) {
  return {status, wire::encode_error(message, type), {}};
}

// Files and jobs keyed by their number: ids are "file-N" and "batch_N", so the map's order is
// the order of creation.
std::optional<std::uint64_t> number_of(std::string_view prefix, std::string_view id) {
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

} // namespace

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
  std::uint64_t next_request = 1; // of batch_req_ and request ids

  // -- endpoints ---------------------------------------------------------------------------
  void upload(const httplib::Request& req, httplib::Response& res);
  void get_file(const httplib::Request& req, httplib::Response& res);
  void file_content(const httplib::Request& req, httplib::Response& res);
  void create(const httplib::Request& req, httplib::Response& res);
  void retrieve(const httplib::Request& req, httplib::Response& res);
  void cancel(const httplib::Request& req, httplib::Response& res);
  void list(const httplib::Request& req, httplib::Response& res);

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

// -- endpoints ---------------------------------------------------------------------------------

void BatchStore::upload(const httplib::Request& req, httplib::Response& res) {
  if (!req.is_multipart_form_data()) {
    invalid_request(res, 400,
                    "Expected a multipart/form-data body with the fields 'purpose' "
                    "and 'file'.");
    return;
  }
  for (const char* field : {"purpose", "file"})
    if (!req.has_file(field)) {
      invalid_request(res, 400, "Missing required parameter: '" + std::string(field) + "'.",
                      "missing_required_parameter");
      return;
    }
  auto purpose = req.get_file_value("purpose").content;
  if (purpose != "batch") {
    invalid_request(res, 400,
                    "Invalid value for 'purpose': '" + purpose + "'. The sim accepts 'batch' only.",
                    "invalid_value");
    return;
  }
  auto part = req.get_file_value("file");
  if (part.content.size() > max_file_bytes) {
    invalid_request(res, 400,
                    "File is too large: " + with_commas(part.content.size()) +
                        " bytes; a batch input file may be at most 200 MB (" +
                        with_commas(max_file_bytes) + " bytes).",
                    "file_too_large");
    return;
  }
  auto filename = part.filename.empty() ? std::string("file") : part.filename;
  std::lock_guard lock(mutex);
  auto id = add_file(std::move(filename), "batch", std::move(part.content), Wall::now());
  ++stats.files_uploaded;
  answer_json(res, file_object(*find_by_id(files, "file-", id)));
}

void BatchStore::get_file(const httplib::Request& req, httplib::Response& res) {
  std::string id = req.matches[1];
  std::lock_guard lock(mutex);
  const auto* file = find_by_id(files, "file-", id);
  if (!file) {
    invalid_request(res, 404, "No such File object: " + id);
    return;
  }
  answer_json(res, file_object(*file));
}

void BatchStore::file_content(const httplib::Request& req, httplib::Response& res) {
  std::string id = req.matches[1];
  std::shared_ptr<const std::string> content;
  {
    std::lock_guard lock(mutex);
    const auto* file = find_by_id(files, "file-", id);
    if (!file) {
      invalid_request(res, 404, "No such File object: " + id);
      return;
    }
    content = file->content;
  }
  ++stats.file_reads;
  res.set_content(*content, file_type); // copied outside the lock
}

void BatchStore::create(const httplib::Request& req, httplib::Response& res) {
  auto now = Clock::now();
  auto wall = Wall::now();
  auto body = json_body(req, res);
  if (!body)
    return;
  for (const char* field : {"input_file_id", "endpoint", "completion_window"}) {
    const json* value = member(*body, field);
    if (!value) {
      invalid_request(res, 400, "Missing required parameter: '" + std::string(field) + "'.",
                      "missing_required_parameter");
      return;
    }
    if (!value->is_string()) {
      invalid_request(res, 400, "Invalid type for '" + std::string(field) + "': expected a string.",
                      "invalid_type");
      return;
    }
  }
  Job job;
  job.input_file_id = (*body)["input_file_id"].get<std::string>();
  job.endpoint = (*body)["endpoint"].get<std::string>();
  job.completion_window = (*body)["completion_window"].get<std::string>();
  if (job.endpoint != chat_endpoint && job.endpoint != embed_endpoint) {
    invalid_request(res, 400,
                    "Invalid value for 'endpoint': '" + job.endpoint +
                        "'. Supported values are: '" + std::string(chat_endpoint) + "' and '" +
                        std::string(embed_endpoint) + "'.",
                    "invalid_value");
    return;
  }
  if (job.completion_window != "24h") {
    invalid_request(res, 400,
                    "Invalid value for 'completion_window': '" + job.completion_window +
                        "'. Supported values are: '24h'.",
                    "invalid_value");
    return;
  }
  if (const json* metadata = member(*body, "metadata"); metadata && !metadata->is_null()) {
    bool strings = metadata->is_object() && metadata->size() <= 16 &&
                   std::all_of(metadata->begin(), metadata->end(),
                               [](const json& value) { return value.is_string(); });
    if (!strings) {
      invalid_request(res, 400,
                      "Invalid 'metadata': expected an object of at most 16 string "
                      "values.",
                      "invalid_value");
      return;
    }
    job.metadata = *metadata;
  }

  std::lock_guard lock(mutex);
  const auto* file = find_by_id(files, "file-", job.input_file_id);
  if (!file) {
    invalid_request(res, 404, "No such File object: " + job.input_file_id);
    return;
  }
  if (file->purpose != "batch") {
    invalid_request(res, 400,
                    "Invalid 'input_file_id': '" + job.input_file_id + "' has purpose '" +
                        file->purpose +
                        "'; a batch reads a file uploaded with "
                        "purpose 'batch'.",
                    "invalid_value");
    return;
  }
  auto number = next_job++;
  job.id = "batch_" + std::to_string(number);
  job.number = number;
  job.input = file->content;
  job.created = now;
  job.created_wall = wall;
  read_input(job);
  if (job.errors.is_null() && options.enqueued_tokens > 0) {
    advance_all(now); // jobs that ended by now reserve nothing
    std::uint64_t enqueued = 0;
    for (const auto& [_, other] : jobs)
      if (other.status == JobStatus::in_progress)
        enqueued += other.reserved_tokens;
    if (enqueued + job.reserved_tokens > options.enqueued_tokens)
      job.errors = {
          {"object", "list"},
          {"data", json::array({json{{"code", "token_limit_exceeded"},
                                     {"message", "Enqueued token limit reached for " + job.model +
                                                     " in organization org-sim. Limit: " +
                                                     with_commas(options.enqueued_tokens) +
                                                     " enqueued tokens. Please try again once some "
                                                     "in_progress batches have been completed."},
                                     {"param", nullptr},
                                     {"line", nullptr}}})}};
  }
  ++stats.batches_created;
  if (!job.errors.is_null()) {
    job.status = JobStatus::failed;
    job.failed_at = wall;
    job.lines.clear();
    job.input.reset();
  } else {
    job.total = job.lines.size();
    stats.lines += job.total;
  }
  auto& stored = jobs.emplace(number, std::move(job)).first->second;
  advance(stored, now); // with no delay, the job is done at once
  answer_json(res, batch_object(stored));
}

void BatchStore::retrieve(const httplib::Request& req, httplib::Response& res) {
  std::string id = req.matches[1];
  std::lock_guard lock(mutex);
  auto* job = find_by_id(jobs, "batch_", id);
  if (!job) {
    invalid_request(res, 404, "No batch found with id '" + id + "'.");
    return;
  }
  ++stats.batch_retrieves;
  advance(*job, Clock::now());
  answer_json(res, batch_object(*job));
}

void BatchStore::cancel(const httplib::Request& req, httplib::Response& res) {
  std::string id = req.matches[1];
  std::lock_guard lock(mutex);
  auto* job = find_by_id(jobs, "batch_", id);
  if (!job) {
    invalid_request(res, 404, "No batch found with id '" + id + "'.");
    return;
  }
  advance(*job, Clock::now());
  if (job->status != JobStatus::in_progress) {
    invalid_request(res, 400, "Cannot cancel a batch with status '" + name_of(job->status) + "'.");
    return;
  }
  close_lines(*job, "batch_cancelled",
              "This request was not executed because the batch was cancelled.");
  finish(*job, JobStatus::cancelled, Wall::now());
  ++stats.batches_cancelled;
  // OpenAI answers the cancel while the batch is still cancelling; it is cancelled at once
  // here, which the next retrieve shows.
  answer_json(res, batch_object(*job, /*cancelling=*/true));
}

void BatchStore::list(const httplib::Request& req, httplib::Response& res) {
  std::size_t limit = 20;
  if (req.has_param("limit")) {
    auto text = req.get_param_value("limit");
    auto value = wire::parse_count(text);
    if (!value || *value < 1 || *value > 100) {
      invalid_request(
          res, 400, "Invalid value for 'limit': '" + text + "'. Expected an integer from 1 to 100.",
          "invalid_value");
      return;
    }
    limit = static_cast<std::size_t>(*value);
  }
  std::lock_guard lock(mutex);
  auto newest = jobs.rbegin();
  if (req.has_param("after")) {
    auto after = req.get_param_value("after");
    const auto* job = find_by_id(jobs, "batch_", after);
    if (!job) {
      invalid_request(res, 400, "Invalid value for 'after': no batch '" + after + "'.",
                      "invalid_value");
      return;
    }
    // The next one is older than `after`.
    newest = std::make_reverse_iterator(jobs.find(*number_of("batch_", after)));
  }
  ++stats.batch_lists;
  auto now = Clock::now();
  json data = json::array();
  for (; newest != jobs.rend() && data.size() < limit; ++newest) {
    advance(newest->second, now);
    data.push_back(batch_object(newest->second));
  }
  json page = {{"object", "list"},
               {"data", data},
               {"first_id", data.empty() ? json(nullptr) : data.front()["id"]},
               {"last_id", data.empty() ? json(nullptr) : data.back()["id"]},
               {"has_more", newest != jobs.rend()}};
  answer_json(res, page);
}

// -- jobs ----------------------------------------------------------------------------------

void BatchStore::read_input(Job& job) {
  json errors = json::array();
  auto refuse = [&errors](std::string_view code, const std::string& message,
                          std::optional<std::size_t> line, std::string_view param = {}) {
    errors.push_back({{"code", code},
                      {"message", message},
                      {"param", param.empty() ? json(nullptr) : json(param)},
                      {"line", line ? json(*line) : json(nullptr)}});
  };
  std::string_view text = *job.input;
  // Blank lines are skipped; line numbers count every line, from 1.
  struct Raw {
    std::size_t offset, size, number;
  };
  std::vector<Raw> raw;
  std::size_t number = 0;
  for (std::size_t start = 0; start < text.size();) {
    auto end = std::min(text.find('\n', start), text.size());
    ++number;
    auto line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos)
      raw.push_back({start, line.size(), number});
    start = end + 1;
  }
  if (raw.empty())
    refuse("empty_file", "The batch input file is empty.", std::nullopt);
  if (raw.size() > max_requests)
    refuse("too_many_tasks",
           "The batch input file holds " + with_commas(raw.size()) +
               " requests; a batch may hold at most " + with_commas(max_requests) + ".",
           std::nullopt);
  if (!errors.empty()) {
    job.errors = {{"object", "list"}, {"data", std::move(errors)}};
    return;
  }

  std::set<std::string, std::less<>> custom_ids;
  std::optional<std::string> model;
  std::mt19937_64 random(options.seed);
  std::bernoulli_distribution fault(options.line_fault_rate);
  bool chat = job.endpoint == chat_endpoint;
  for (const auto& [offset, size, line] : raw) {
    auto doc = json::parse(text.substr(offset, size), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      refuse("invalid_json_line", "This line is not parseable as valid JSON.", line);
      continue;
    }
    // The fields in OpenAI's order of checks; a line reports its first problem.
    bool problem = false;
    for (const char* field : {"custom_id", "method", "url", "body"}) {
      const json* value = member(doc, field);
      bool body = std::string_view(field) == "body";
      if (!value)
        refuse("missing_required_parameter",
               "Missing required parameter: '" + std::string(field) + "'.", line, field);
      else if (body ? !value->is_object() : !value->is_string())
        refuse("invalid_type",
               "Invalid type for '" + std::string(field) + "': expected " +
                   (body ? "an object." : "a string."),
               line, field);
      else
        continue;
      problem = true;
      break;
    }
    if (problem)
      continue;
    auto custom_id = doc["custom_id"].get<std::string>();
    if (!custom_ids.insert(custom_id).second) {
      refuse("duplicate_custom_id",
             "The custom_id '" + custom_id +
                 "' is a duplicate of another request's. The custom_id parameter must be "
                 "unique for each request in a batch.",
             line, "custom_id");
      continue;
    }
    if (doc["method"] != "POST") {
      refuse("invalid_value",
             "Invalid value for 'method': '" + doc["method"].get<std::string>() +
                 "'. Only POST is supported.",
             line, "method");
      continue;
    }
    if (doc["url"] != job.endpoint) {
      refuse("url_mismatch",
             "The url '" + doc["url"].get<std::string>() +
                 "' does not match the batch's endpoint '" + job.endpoint + "'.",
             line, "url");
      continue;
    }
    const json& body = doc["body"];
    if (const json* line_model = member(body, "model"); line_model && line_model->is_string()) {
      if (!model)
        model = line_model->get<std::string>();
      else if (*model != line_model->get<std::string>()) {
        refuse("model_mismatch",
               "The model '" + line_model->get<std::string>() +
                   "' does not match the model of the batch's other requests ('" + *model + "').",
               line, "body.model");
        continue;
      }
    }
    if (options.enqueued_tokens > 0) { // what the online limiter would charge the call
      auto encoded = body.dump();
      if (chat) {
        if (auto call = wire::decode_chat_request(encoded))
          job.reserved_tokens += cost_of(*call);
      } else if (auto request = wire::decode_embed_request(encoded)) {
        job.reserved_tokens += cost_of(*request);
      }
    }
    job.lines.push_back({.custom_id = std::move(custom_id),
                         .offset = offset,
                         .size = size,
                         .fault = options.line_fault_rate > 0 && fault(random)});
  }
  job.model = model.value_or("local");
  if (!errors.empty()) {
    job.errors = {{"object", "list"}, {"data", std::move(errors)}};
    job.lines.clear();
    job.reserved_tokens = 0;
  }
}

// How many lines are answered by `at`: line i (0-based) of n at created + delay*(i+1)/n.
std::size_t BatchStore::lines_due(const Job& job, Clock::time_point at) const {
  if (at < job.created)
    return 0;
  auto elapsed = at - job.created;
  if (elapsed >= options.delay) // also every line of a job without delay
    return job.total;
  auto delay = std::chrono::duration_cast<Clock::duration>(options.delay);
  auto fraction =
      static_cast<long double>(elapsed.count()) / static_cast<long double>(delay.count());
  return std::min(job.total,
                  static_cast<std::size_t>(fraction * static_cast<long double>(job.total)));
}

void BatchStore::advance(Job& job, Clock::time_point now) {
  if (job.status != JobStatus::in_progress)
    return;
  bool expires = options.expire > milliseconds::zero() &&
                 (options.expire_jobs == 0 || job.number <= options.expire_jobs);
  auto expiry = job.created + options.expire;
  auto due = lines_due(job, expires ? std::min(now, expiry) : now);
  while (job.done < due)
    answer_next_line(job);
  if (job.done == job.total) {
    finish(job, JobStatus::completed, job.created_wall + options.delay);
  } else if (expires && now >= expiry) {
    close_lines(job, "batch_expired",
                "This request could not be executed before the completion window expired.");
    finish(job, JobStatus::expired, job.created_wall + options.expire);
  }
}

void BatchStore::advance_all(Clock::time_point now) {
  for (auto& [_, job] : jobs)
    advance(job, now);
}

void BatchStore::answer_next_line(Job& job) {
  const auto& line = job.lines[job.done++];
  auto answered = answer(job, line);
  bool ok = answered.status == 200;
  auto number = std::to_string(next_request++);
  // Written as text, in OpenAI's order of fields: the body is JSON text already, copied as is
  // rather than parsed only to be printed again.
  (ok ? job.output : job.error_output)
      .append(R"({"id":"batch_req_)")
      .append(number)
      .append(R"(","custom_id":)")
      .append(json(line.custom_id).dump())
      .append(R"(,"response":{"status_code":)")
      .append(std::to_string(answered.status))
      .append(R"(,"request_id":"req_)")
      .append(number)
      .append(R"(","body":)")
      .append(answered.body)
      .append("},\"error\":null}\n");
  ++(ok ? job.completed : job.failed);
  ++(ok ? stats.lines_ok : stats.lines_failed);
  counters.prompt_tokens += answered.usage.prompt_tokens;
  counters.completion_tokens += answered.usage.completion_tokens;
}

// The checks in the online handler's order: the body decodes, then the fault draw.
LineAnswer BatchStore::answer(const Job& job, const Line& line) const {
  auto doc = json::parse(std::string_view(*job.input).substr(line.offset, line.size), nullptr,
                         false); // read_input parsed it once already
  auto body = doc["body"].dump();
  if (body.find(fail_marker) != std::string::npos)
    return line_error(400, "SIM_FAIL_LINE: this request fails on purpose (sim)",
                      "invalid_request_error");
  auto fault = [] {
    return line_error(500, "The server had an error while processing your request (sim fault)",
                      "server_error");
  };
  Answer answered;
  if (job.endpoint == chat_endpoint) {
    auto call = wire::decode_chat_request(body);
    if (!call)
      return line_error(400, call.error().message, "invalid_request_error");
    if (call->stream)
      return line_error(400, "stream: a batch request cannot be streamed", "invalid_request_error");
    if (line.fault)
      return fault();
    answered = online.chat(*call);
  } else {
    auto request = wire::decode_embed_request(body);
    if (!request)
      return line_error(400, request.error().message, "invalid_request_error");
    if (line.fault)
      return fault();
    answered = online.embed(*request);
  }
  return {200, std::move(answered.body), answered.usage};
}

void BatchStore::close_lines(Job& job, std::string_view code, std::string_view message) {
  auto rest = job.total - job.done;
  for (; job.done < job.total; ++job.done) {
    json out = {{"id", "batch_req_" + std::to_string(next_request++)},
                {"custom_id", job.lines[job.done].custom_id},
                {"response", nullptr},
                {"error", {{"code", code}, {"message", message}}}};
    job.error_output.append(out.dump()).append("\n");
  }
  job.failed += rest;
  (code == "batch_expired" ? stats.lines_expired : stats.lines_cancelled) += rest;
}

void BatchStore::finish(Job& job, JobStatus status, Wall::time_point at) {
  job.status = status;
  switch (status) {
    case JobStatus::completed:
      job.finalizing_at = job.completed_at = at;
      break;
    case JobStatus::expired:
      job.expired_at = at;
      break;
    case JobStatus::cancelled:
      job.cancelling_at = job.cancelled_at = at;
      break;
    case JobStatus::in_progress:
    case JobStatus::failed:
      break;
  }
  if (!job.output.empty())
    job.output_file_id =
        add_file(job.id + "_output.jsonl", "batch_output", std::exchange(job.output, {}), at);
  if (!job.error_output.empty())
    job.error_file_id =
        add_file(job.id + "_error.jsonl", "batch_output", std::exchange(job.error_output, {}), at);
  job.lines = {};
  job.input.reset();
}

std::string BatchStore::add_file(std::string filename, std::string purpose, std::string content,
                                 Wall::time_point at) {
  auto number = next_file++;
  auto id = "file-" + std::to_string(number);
  files.emplace(number,
                StoredFile{.id = id,
                           .filename = std::move(filename),
                           .purpose = std::move(purpose),
                           .created_at = unix_seconds(at),
                           .content = std::make_shared<const std::string>(std::move(content))});
  return id;
}

json BatchStore::file_object(const StoredFile& file) const {
  return {{"id", file.id},
          {"object", "file"},
          {"bytes", file.content->size()},
          {"created_at", file.created_at},
          {"filename", file.filename},
          {"purpose", file.purpose},
          {"status", "processed"}};
}

json BatchStore::batch_object(const Job& job, bool cancelling) const {
  bool failed = job.status == JobStatus::failed;
  // OpenAI's window is 24 hours; an `expire` shortens it.
  auto window = options.expire > milliseconds::zero()
                    ? std::chrono::duration_cast<Wall::duration>(options.expire)
                    : std::chrono::duration_cast<Wall::duration>(std::chrono::hours(24));
  // A cancelling batch has no files or cancelled_at yet.
  auto when_done = [cancelling](const auto& value) { return cancelling ? std::nullopt : value; };
  return {{"id", job.id},
          {"object", "batch"},
          {"endpoint", job.endpoint},
          {"errors", job.errors},
          {"input_file_id", job.input_file_id},
          {"completion_window", job.completion_window},
          {"status", cancelling ? std::string("cancelling") : name_of(job.status)},
          {"output_file_id", string_or_null(when_done(job.output_file_id))},
          {"error_file_id", string_or_null(when_done(job.error_file_id))},
          {"created_at", unix_seconds(job.created_wall)},
          {"in_progress_at", failed ? json(nullptr) : json(unix_seconds(job.created_wall))},
          {"expires_at", unix_seconds(job.created_wall + window)},
          {"finalizing_at", unix_or_null(job.finalizing_at)},
          {"completed_at", unix_or_null(job.completed_at)},
          {"failed_at", unix_or_null(job.failed_at)},
          {"expired_at", unix_or_null(job.expired_at)},
          {"cancelling_at", unix_or_null(job.cancelling_at)},
          {"cancelled_at", unix_or_null(when_done(job.cancelled_at))},
          {"request_counts",
           {{"total", job.total}, {"completed", job.completed}, {"failed", job.failed}}},
          {"metadata", job.metadata}};
}

// -- BatchApi ---------------------------------------------------------------------------------

BatchApi::BatchApi(BatchOptions options, OnlineEndpoints online, Counters& counters)
    : store_(std::make_unique<BatchStore>(options, std::move(online), counters)) {}

BatchApi::~BatchApi() = default;

void BatchApi::route(httplib::Server& server) {
  using Handler = void (BatchStore::*)(const httplib::Request&, httplib::Response&);
  // Every endpoint is authorized as the online ones are.
  auto guarded = [&store = *store_](Handler handler) {
    return [&store, handler](const httplib::Request& req, httplib::Response& res) {
      if (store.online.authorize(req, res))
        (store.*handler)(req, res);
    };
  };
  server.Post("/v1/files", guarded(&BatchStore::upload));
  server.Get(R"(/v1/files/([^/]+))", guarded(&BatchStore::get_file));
  server.Get(R"(/v1/files/([^/]+)/content)", guarded(&BatchStore::file_content));
  server.Post("/v1/batches", guarded(&BatchStore::create));
  server.Get("/v1/batches", guarded(&BatchStore::list));
  server.Get(R"(/v1/batches/([^/]+))", guarded(&BatchStore::retrieve));
  server.Post(R"(/v1/batches/([^/]+)/cancel)", guarded(&BatchStore::cancel));
}

void BatchApi::count_request(std::string_view path) {
  for (std::string_view prefix : {"/v1/files", "/v1/batches"})
    if (path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/')) {
      ++store_->stats.requests;
      return;
    }
}

nlohmann::json BatchApi::stats(Clock::time_point now) {
  std::lock_guard lock(store_->mutex);
  store_->advance_all(now);
  return store_->stats.to_json();
}

void BatchApi::reset_stats() { store_->stats.reset(); }

} // namespace actorflow::tools::sim
