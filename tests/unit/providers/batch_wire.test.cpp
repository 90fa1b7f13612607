// The Batch API's files on the client side: the JSONL input round trip, answer lines of every
// shape (success, error status, expiry, lines that do not decode), the batch object, and the
// multipart upload.
#include "providers/batch_wire.hpp"

#include <actorflow/chat.hpp>

#include "providers/openai_wire.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

using namespace actorflow;
using namespace actorflow::wire;
using namespace actorflow::testing_support;

TEST_CASE("an input file round-trips: one line per request, bodies as they were") {
  auto chat = ChatRequest::user("Say \"hi\"\nin two lines");
  chat.max_tokens = 7;
  const std::vector<BatchRequestLine> lines{
      {"call-1", "/v1/chat/completions", encode_chat_request(chat, "gpt-4o-mini", false)},
      {"call-2", "/v1/embeddings", R"({"input":["a","b"],"model":"e"})"}};
  const std::string jsonl = encode_batch_input(lines);
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 2);
  CHECK(jsonl.starts_with(
      R"({"custom_id":"call-1","method":"POST","url":"/v1/chat/completions","body":{)"));
  const auto decoded = must(decode_batch_input(jsonl));
  REQUIRE(decoded.size() == 2);
  CHECK(decoded[0].custom_id == "call-1");
  CHECK(decoded[1].url == "/v1/embeddings");
  // The body decodes to the same request.
  CHECK(must(decode_chat_request(decoded[0].body)).request.prompt() == chat.prompt());
  CHECK(decoded[1].body == lines[1].body);
  auto broken = decode_batch_input("{\"custom_id\":\"x\",\"body\":{}}\nnot json\n");
  REQUIRE_FALSE(broken.ok());
  CHECK(contains(broken.error().message, "line 2"));
}

TEST_CASE("answer lines: successes, error statuses and expiries, a broken line loses no other") {
  const std::string jsonl =
      R"({"id":"r1","custom_id":"a","response":{"status_code":200,"request_id":"q","body":{"x":1}},"error":null})"
      "\n"
      R"({"id":"r2","custom_id":"b","response":{"status_code":400,"body":{"error":{"message":"no"}}},"error":null})"
      "\r\n"
      "{broken\n"
      R"({"id":"r3","custom_id":"c","response":null,"error":{"code":"batch_expired","message":"late"}})"
      "\n"
      R"({"id":"r4","response":null,"error":null})"
      "\n";
  std::vector<std::string> problems;
  const auto answers = decode_batch_answers(jsonl, problems);
  REQUIRE(answers.size() == 3);
  CHECK(answers[0].custom_id == "a");
  CHECK(answers[0].status == 200);
  CHECK(answers[0].body == R"({"x":1})");
  CHECK(answers[1].status == 400);
  CHECK(answers[2].status == 0);
  CHECK(answers[2].error_code == "batch_expired");
  CHECK(answers[2].error_message == "late");
  REQUIRE(problems.size() == 2);
  CHECK(contains(problems[0], "line 3"));
  CHECK(contains(problems[1], "line 5: custom_id: missing"));
}

TEST_CASE("a batch object: status, files, counts, and a failed batch's errors") {
  const auto job = must(decode_batch_job(
      R"({"id":"batch_1","status":"failed","output_file_id":null,"error_file_id":null,
          "request_counts":{"total":2,"completed":0,"failed":2},
          "errors":{"object":"list","data":[{"code":"invalid_json_line","message":"bad","line":2}]}})"));
  CHECK(job.id == "batch_1");
  CHECK(job.ended());
  CHECK(job.output_file_id.empty());
  CHECK(job.total == 2);
  CHECK(job.errors == "invalid_json_line (line 2): bad");
  CHECK_FALSE(must(decode_batch_job(R"({"id":"b","status":"in_progress"})")).ended());
  CHECK_FALSE(decode_batch_job(R"({"status":"completed"})").ok());
  CHECK(must(decode_file_id(R"({"id":"file-9","object":"file"})")) == "file-9");
}

TEST_CASE("a page of jobs: each job with its input file, and where the next page starts") {
  const auto page = must(decode_batch_list(
      R"({"object":"list","data":[{"id":"batch_2","status":"in_progress","input_file_id":"file-9"},)"
      R"({"id":"batch_1","status":"completed","input_file_id":"file-4"}],)"
      R"("first_id":"batch_2","last_id":"batch_1","has_more":true})"));
  REQUIRE(page.jobs.size() == 2);
  CHECK(page.jobs[0].input_file_id == "file-9");
  CHECK(page.jobs[1].ended());
  CHECK(page.has_more);
  CHECK(page.last_id == "batch_1");
  CHECK_FALSE(must(decode_batch_list(R"({"data":[],"has_more":false})")).has_more);
  CHECK_FALSE(decode_batch_list(R"({"data":{}})").ok());
  CHECK_FALSE(decode_batch_list(R"({"data":[{"id":"b"}]})").ok()); // a job without a status
}

TEST_CASE("the upload is multipart/form-data with the purpose and the file") {
  const std::string body = encode_batch_upload("{\"a\":1}\n", "in.jsonl", "BOUNDARY");
  CHECK(body.starts_with("--BOUNDARY\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
                         "batch\r\n"));
  CHECK(contains(body, "name=\"file\"; filename=\"in.jsonl\"\r\n"));
  CHECK(contains(body, "\r\n\r\n{\"a\":1}\n\r\n--BOUNDARY--\r\n"));
}
