// The Batch API's endpoints for the openai_batch provider (see batch_client.hpp).

#include "providers/batch_client.hpp"

#include "providers/openai_http.hpp"
#include "providers/wire_json.hpp"

#include <algorithm>
#include <future>
#include <utility>

namespace actorflow::batch {

using namespace openai_http;
using std::chrono::milliseconds;

namespace {

// What a retry may cure: no answer (but not our own stop), a 429, a 5xx.
bool retryable(const http::Response& r) {
  if (r.transport == http::Transport::cancelled)
    return false;
  return r.transport != http::Transport::ok || r.status == 429 || r.status >= 500;
}

// The newest jobs looked through for a job's input file: 20 pages of 100.
constexpr int max_list_pages = 20;

} // namespace

BatchApiClient::BatchApiClient(const OpenAiConfig& config, const OpenAiBatchOptions& options,
                               Pause pause)
    : config_(config), options_(options), pause_(std::move(pause)),
      client_(config.max_connections, request_headers(config, false)) {}

http::Response BatchApiClient::send(http::Request request) {
  request.timeout = config_.timeout;
  request.connect_timeout = config_.connect_timeout;
  std::promise<http::Response> answered;
  auto answer = answered.get_future();
  ++http_requests;
  client_.post(std::move(request),
               [&answered](http::Response response) { answered.set_value(std::move(response)); });
  return answer.get();
}

std::optional<Error> BatchApiClient::failure(const http::Response& r,
                                             const std::string& where) const {
  if (r.transport != http::Transport::ok)
    return transport_error(r, where);
  if (r.status != 200) {
    Error error = http_error(r, where);
    error.message = scrub(std::move(error.message), config_.api_key);
    return error;
  }
  return std::nullopt;
}

milliseconds BatchApiClient::jittered(milliseconds interval) {
  std::uniform_real_distribution<double> spread(1 - options_.poll_jitter, 1 + options_.poll_jitter);
  return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(interval.count()) *
                                                     std::max(0.0, spread(rng_))));
}

bool BatchApiClient::back_off(std::uint32_t tried) {
  ++retries;
  auto delay = options_.submit_backoff;
  for (std::uint32_t i = 0; i < tried && delay < std::chrono::hours(1); ++i)
    delay *= 2;
  return pause_(jittered(delay));
}

Result<std::string> BatchApiClient::upload(const std::string& jsonl) {
  std::string boundary = "actorflow-batch-" + std::to_string(rng_());
  while (jsonl.find(boundary) != std::string::npos)
    boundary += std::to_string(rng_() % 10);
  const std::string body = wire::encode_batch_upload(jsonl, "actorflow-batch.jsonl", boundary);
  const std::string where = "openai_batch: POST " + config_.base_url + "/files";
  for (std::uint32_t tried = 0;; ++tried) {
    http::Request upload;
    upload.url = config_.base_url + "/files";
    upload.headers = {"Content-Type: multipart/form-data; boundary=" + boundary};
    upload.body = body;
    const http::Response uploaded = send(std::move(upload));
    if (auto error = failure(uploaded, where)) {
      // A lost answer leaves at worst an unused file: uploading again cannot pay twice.
      if (retryable(uploaded) && tried < options_.submit_retries && back_off(tried))
        continue;
      return *error;
    }
    return wire::decode_file_id(uploaded.body);
  }
}

Result<BatchApiClient::Created>
BatchApiClient::create(const std::string& file_id, const std::string& endpoint, bool& may_exist) {
  const std::string where = "openai_batch: POST " + config_.base_url + "/batches";
  const std::string body =
      wire::to_wire(wire::json{{"input_file_id", file_id},
                               {"endpoint", endpoint},
                               {"completion_window", options_.completion_window}});
  for (std::uint32_t tried = 0;; ++tried) {
    if (may_exist) {
      auto found = find_by_file(file_id);
      if (found && *found)
        return Created{std::move(**found), true};
      if (found)
        may_exist = false; // looked, and it is not there: this create decides
      // A list that fails says nothing: creating now could make a second job.
      if (!found) {
        if (tried < options_.submit_retries && back_off(tried))
          continue;
        return Error{found.error().code, found.error().message + " (looking for the job of " +
                                             file_id + ", whose create went unanswered)"};
      }
    }
    http::Request create;
    create.url = config_.base_url + "/batches";
    create.headers = {"Content-Type: application/json"};
    create.body = body;
    const http::Response created = send(std::move(create));
    if (auto error = failure(created, where)) {
      // No answer (also one we cancelled: stopping) or a 5xx: the job may exist now. A 429 or
      // another 4xx was refused for sure, which says nothing of an earlier try.
      may_exist = may_exist || created.transport != http::Transport::ok || created.status >= 500;
      if (retryable(created) && tried < options_.submit_retries && back_off(tried))
        continue;
      return *error;
    }
    auto job = wire::decode_batch_job(created.body);
    if (!job)
      return job.error();
    return Created{std::move(*job), false};
  }
}

Result<std::optional<wire::BatchJobStatus>>
BatchApiClient::find_by_file(const std::string& file_id) {
  std::string after;
  for (int page = 0; page < max_list_pages; ++page) {
    http::Request list;
    list.url = config_.base_url + "/batches?limit=100" + (after.empty() ? "" : "&after=" + after);
    list.get = true;
    const http::Response listed = send(std::move(list));
    if (auto error = failure(listed, "openai_batch: GET " + config_.base_url + "/batches"))
      return *error;
    auto jobs = wire::decode_batch_list(listed.body);
    if (!jobs)
      return jobs.error();
    for (auto& job : jobs->jobs)
      // A failed job never ran: the file is free for another (the token limit refused it).
      if (job.input_file_id == file_id && job.status != "failed")
        return std::optional<wire::BatchJobStatus>(std::move(job));
    if (!jobs->has_more || jobs->last_id.empty())
      break;
    after = jobs->last_id;
  }
  return std::optional<wire::BatchJobStatus>();
}

Result<wire::BatchJobStatus> BatchApiClient::retrieve(const std::string& id, bool& gone) {
  http::Request get;
  get.url = config_.base_url + "/batches/" + id;
  get.get = true;
  const http::Response answered = send(std::move(get));
  gone = answered.transport == http::Transport::ok && answered.status == 404;
  if (auto error = failure(answered, "openai_batch: GET " + config_.base_url + "/batches/" + id))
    return *error;
  return wire::decode_batch_job(answered.body);
}

Result<std::string> BatchApiClient::read_file(const std::string& id, bool& gone) {
  http::Request content;
  content.url = config_.base_url + "/files/" + id + "/content";
  content.get = true;
  const std::string where = "openai_batch: GET " + content.url;
  http::Response read = send(std::move(content));
  gone = read.transport == http::Transport::ok && read.status == 404;
  if (auto error = failure(read, where))
    return *error;
  return std::move(read.body);
}

} // namespace actorflow::batch
