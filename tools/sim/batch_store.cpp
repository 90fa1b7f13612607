// The jobs of the sim's Batch API: reading an input file, answering lines as time passes,
// expiry, cancellation, and the File and Batch objects (see sim/batch_api.hpp).

#include "sim/batch_store.hpp"

namespace actorflow::tools::sim {

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

} // namespace actorflow::tools::sim
