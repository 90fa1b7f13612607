#include "sim/batch_api.hpp"

#include "sim/batch_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

namespace actorflow::tools::sim {

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
  if (uploads_failed < options.fail_uploads) {
    ++uploads_failed;
    answer_error(res, 503, "The server is overloaded (--batch-fail-uploads).", "server_error");
    return;
  }
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
  if (creates_lost < options.lose_creates) {
    ++creates_lost;
    answer_error(res, 503, "The server is overloaded (--batch-lose-creates).", "server_error");
    return;
  }
  json object = batch_object(stored);
  if (stored.status == JobStatus::failed && options.fail_late) {
    // As OpenAI does: the create says "validating"; the failure shows on the next look.
    object["status"] = "validating";
    object["errors"] = nullptr;
    object["failed_at"] = nullptr;
  }
  answer_json(res, object);
}

Job* BatchStore::job_named(const httplib::Request& req, httplib::Response& res) {
  std::string id = req.matches[1];
  auto* job = find_by_id(jobs, "batch_", id);
  if (!job)
    invalid_request(res, 404, "No batch found with id '" + id + "'.");
  return job;
}

void BatchStore::retrieve(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mutex);
  auto* job = job_named(req, res);
  if (!job)
    return;
  ++stats.batch_retrieves;
  advance(*job, Clock::now());
  answer_json(res, batch_object(*job));
}

void BatchStore::cancel(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mutex);
  auto* job = job_named(req, res);
  if (!job)
    return;
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
