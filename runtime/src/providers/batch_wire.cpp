#include "providers/batch_wire.hpp"

#include "providers/wire_json.hpp"

#include <utility>

namespace actorflow::wire {

namespace {

std::string line_name(std::size_t number) { return "line " + std::to_string(number); }

std::string string_or_empty(const json& object, const char* name) {
  const json* found = member(object, name);
  return found != nullptr && found->is_string() ? found->get<std::string>() : std::string();
}

// Each non-empty line of `jsonl`, with its 1-based number.
template <class Each>
void for_each_line(std::string_view jsonl, Each each) {
  std::size_t number = 0;
  while (!jsonl.empty()) {
    const auto end = jsonl.find('\n');
    std::string_view line = jsonl.substr(0, end);
    jsonl = end == std::string_view::npos ? std::string_view() : jsonl.substr(end + 1);
    ++number;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (!line.empty())
      each(line, number);
  }
}

} // namespace

std::string encode_batch_input(const std::vector<BatchRequestLine>& lines) {
  std::string out;
  for (const auto& line : lines) {
    // The body is spliced in as it is: it is JSON already, and re-parsing every request would
    // cost as much as encoding it did.
    json head = {{"custom_id", line.custom_id}, {"method", "POST"}, {"url", line.url}};
    std::string text = to_wire(head);
    text.pop_back(); // the closing brace
    text.append(",\"body\":").append(line.body).append("}\n");
    out += text;
  }
  return out;
}

Result<std::vector<BatchRequestLine>> decode_batch_input(std::string_view jsonl) {
  std::vector<BatchRequestLine> lines;
  std::optional<Error> failed;
  for_each_line(jsonl, [&](std::string_view text, std::size_t number) {
    if (failed)
      return;
    auto doc = parse(text, Errc::bad_input);
    if (!doc) {
      failed = bad(Errc::bad_input, line_name(number), doc.error().message);
      return;
    }
    const json* body = member(*doc, "body");
    if (body == nullptr || !body->is_object()) {
      failed = bad(Errc::bad_input, line_name(number) + ": body", "expected an object");
      return;
    }
    lines.push_back(
        {string_or_empty(*doc, "custom_id"), string_or_empty(*doc, "url"), to_wire(*body)});
  });
  if (failed)
    return *failed;
  return lines;
}

std::vector<BatchAnswerLine> decode_batch_answers(std::string_view jsonl,
                                                  std::vector<std::string>& problems) {
  std::vector<BatchAnswerLine> answers;
  for_each_line(jsonl, [&](std::string_view text, std::size_t number) {
    auto doc = parse(text, Errc::bad_response);
    if (!doc) {
      problems.push_back(line_name(number) + ": " + doc.error().message);
      return;
    }
    BatchAnswerLine answer;
    answer.custom_id = string_or_empty(*doc, "custom_id");
    if (answer.custom_id.empty()) {
      problems.push_back(line_name(number) + ": custom_id: missing");
      return;
    }
    if (const json* response = member(*doc, "response"); response != nullptr) {
      const json* status = member(*response, "status_code");
      const json* body = member(*response, "body");
      if (status == nullptr || !status->is_number_integer() || body == nullptr) {
        problems.push_back(line_name(number) + ": response: expected status_code and body");
        return;
      }
      answer.status = status->get<int>();
      answer.body = body->is_string() ? body->get<std::string>() : to_wire(*body);
    }
    if (const json* error = member(*doc, "error"); error != nullptr && error->is_object()) {
      answer.error_code = string_or_empty(*error, "code");
      answer.error_message = string_or_empty(*error, "message");
    }
    if (answer.status == 0 && answer.error_code.empty() && answer.error_message.empty()) {
      problems.push_back(line_name(number) + ": neither a response nor an error");
      return;
    }
    answers.push_back(std::move(answer));
  });
  return answers;
}

namespace {

Result<BatchJobStatus> batch_job_of(const json& doc) {
  BatchJobStatus job;
  job.id = string_or_empty(doc, "id");
  job.status = string_or_empty(doc, "status");
  if (job.id.empty() || job.status.empty())
    return bad(Errc::bad_response, "batch", "expected an id and a status");
  job.input_file_id = string_or_empty(doc, "input_file_id");
  job.output_file_id = string_or_empty(doc, "output_file_id");
  job.error_file_id = string_or_empty(doc, "error_file_id");
  if (const json* counts = member(doc, "request_counts"); counts != nullptr) {
    job.total = count_or_zero(*counts, "total");
    job.completed = count_or_zero(*counts, "completed");
    job.failed = count_or_zero(*counts, "failed");
  }
  if (const json* errors = member(doc, "errors"); errors != nullptr) {
    const json* data = member(*errors, "data");
    if (data != nullptr && data->is_array())
      for (const json& e : *data) {
        if (!job.errors.empty())
          job.errors += "; ";
        job.errors += string_or_empty(e, "code");
        if (const json* line = member(e, "line"); line != nullptr && line->is_number_integer())
          job.errors += " (line " + std::to_string(line->get<std::int64_t>()) + ")";
        job.errors += ": " + string_or_empty(e, "message");
      }
  }
  return job;
}

} // namespace

Result<BatchJobStatus> decode_batch_job(std::string_view body) {
  auto doc = parse(body, Errc::bad_response);
  if (!doc)
    return doc.error();
  return batch_job_of(*doc);
}

Result<BatchJobPage> decode_batch_list(std::string_view body) {
  auto doc = parse(body, Errc::bad_response);
  if (!doc)
    return doc.error();
  const json* data = member(*doc, "data");
  if (data == nullptr || !data->is_array())
    return bad(Errc::bad_response, "batch list", "expected a data array");
  BatchJobPage page;
  for (const json& item : *data) {
    auto job = batch_job_of(item);
    if (!job)
      return job.error();
    page.jobs.push_back(std::move(*job));
  }
  if (const json* more = member(*doc, "has_more"); more != nullptr && more->is_boolean())
    page.has_more = more->get<bool>();
  page.last_id = string_or_empty(*doc, "last_id");
  return page;
}

Result<std::string> decode_file_id(std::string_view body) {
  auto doc = parse(body, Errc::bad_response);
  if (!doc)
    return doc.error();
  std::string id = string_or_empty(*doc, "id");
  if (id.empty())
    return bad(Errc::bad_response, "file", "expected an id");
  return id;
}

std::string encode_batch_upload(std::string_view content, std::string_view filename,
                                std::string_view boundary) {
  std::string out;
  out.reserve(content.size() + 256);
  out.append("--").append(boundary).append("\r\n");
  out.append("Content-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n");
  out.append("--").append(boundary).append("\r\n");
  out.append("Content-Disposition: form-data; name=\"file\"; filename=\"")
      .append(filename)
      .append("\"\r\nContent-Type: application/jsonl\r\n\r\n");
  out.append(content);
  out.append("\r\n--").append(boundary).append("--\r\n");
  return out;
}

} // namespace actorflow::wire
