// The Batch API of `actorflow sim` (/v1/files, /v1/batches) over real HTTP on loopback: each
// test starts its own sim process and talks to it with httplib. A job's state is a function of
// time, so the tests pick delays that make every outcome exact; waits are polls with a bound.
#include <actorflow/llm.hpp>

#include "support/sim_process.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using actorflow::test::SimProcess;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string chat_url = "/v1/chat/completions";
const std::string embed_url = "/v1/embeddings";

// A sim with few threads (these tests open a connection or two), plus `args`.
SimProcess start_sim(std::vector<std::string> args = {}) {
  args.insert(args.end(), {"--threads", "8"});
  return SimProcess(std::move(args));
}

json chat_body(const std::string& prompt, const json& extra = json::object()) {
  json body = {{"model", "local"}, {"messages", {{{"role", "user"}, {"content", prompt}}}}};
  body.update(extra);
  return body;
}

std::string request_line(const std::string& custom_id, const json& body,
                         const std::string& url = chat_url) {
  return json{{"custom_id", custom_id}, {"method", "POST"}, {"url", url}, {"body", body}}.dump();
}

std::string jsonl(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += line + "\n";
  return out;
}

// `count` chat lines c0, c1, ... with different prompts.
std::string chat_lines(std::size_t count) {
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < count; ++i)
    lines.push_back(
        request_line("c" + std::to_string(i),
                     chat_body("Question " + std::to_string(i) + ": why is the sky blue?")));
  return jsonl(lines);
}

// The parts of a completion that do not change from call to call.
json without_id(json body) {
  body.erase("id");
  body.erase("created");
  return body;
}

json error_of(const httplib::Result& res) {
  auto body = json::parse(res->body, nullptr, false);
  REQUIRE_MESSAGE(body.contains("error"), res->body);
  return body["error"];
}

// A Batch API client of one sim.
class BatchClient {
public:
  explicit BatchClient(const SimProcess& sim, httplib::Headers headers = {})
      : client_("127.0.0.1", sim.port), headers_(std::move(headers)) {
    client_.set_read_timeout(10s);
  }

  httplib::Result upload(const std::string& content, const std::string& purpose = "batch") {
    httplib::MultipartFormDataItems items{{"purpose", purpose, "", ""},
                                          {"file", content, "input.jsonl", "application/jsonl"}};
    return client_.Post("/v1/files", headers_, items);
  }
  // The uploaded file's id.
  std::string upload_ok(const std::string& content) {
    auto res = upload(content);
    REQUIRE(res);
    REQUIRE_MESSAGE(res->status == 200, res->body);
    return json::parse(res->body)["id"].get<std::string>();
  }

  httplib::Result create(const json& request) {
    return client_.Post("/v1/batches", headers_, request.dump(), "application/json");
  }
  json create_ok(const std::string& file_id, const std::string& endpoint = chat_url) {
    auto res =
        create({{"input_file_id", file_id}, {"endpoint", endpoint}, {"completion_window", "24h"}});
    REQUIRE(res);
    REQUIRE_MESSAGE(res->status == 200, res->body);
    return json::parse(res->body);
  }

  httplib::Result get(const std::string& path) { return client_.Get(path, headers_); }
  httplib::Result post(const std::string& path, const std::string& body = "") {
    return client_.Post(path, headers_, body, "application/json");
  }
  json get_ok(const std::string& path) {
    auto res = get(path);
    REQUIRE(res);
    REQUIRE_MESSAGE(res->status == 200, res->body);
    return json::parse(res->body);
  }

  // Polls the batch until it is finished, as a batch client does; 10 s at most.
  json wait_finished(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto batch = get_ok("/v1/batches/" + id);
      auto status = batch["status"].get<std::string>();
      if (status != "validating" && status != "in_progress" && status != "finalizing" &&
          status != "cancelling")
        return batch;
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, id << " still " << status);
      std::this_thread::sleep_for(5ms);
    }
  }

  // The lines of a file, parsed.
  std::vector<json> lines_of(const std::string& file_id) {
    auto res = get("/v1/files/" + file_id + "/content");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    std::vector<json> lines;
    for (std::size_t start = 0; start < res->body.size();) {
      auto end = res->body.find('\n', start);
      REQUIRE(end != std::string::npos); // every line is terminated
      lines.push_back(json::parse(res->body.substr(start, end - start)));
      start = end + 1;
    }
    return lines;
  }

private:
  httplib::Client client_;
  httplib::Headers headers_;
};

std::set<std::string> custom_ids(const std::vector<json>& lines) {
  std::set<std::string> ids;
  for (const auto& line : lines)
    ids.insert(line["custom_id"].get<std::string>());
  return ids;
}

} // namespace

TEST_CASE("a chat batch answers every line once, as the online endpoint answers the same call") {
  auto sim = start_sim({"--batch-delay-ms", "50"});
  BatchClient api(sim);
  std::vector<json> bodies;
  std::vector<std::string> lines;
  for (int i = 0; i < 4; ++i) {
    bodies.push_back(chat_body("Tell me about topic " + std::to_string(i) + ", briefly.",
                               i == 3 ? json{{"max_tokens", 5}} : json::object()));
    lines.push_back(request_line("c" + std::to_string(i), bodies.back()));
  }
  auto content = jsonl(lines);

  auto uploaded = api.upload(content);
  REQUIRE(uploaded);
  REQUIRE(uploaded->status == 200);
  auto file = json::parse(uploaded->body);
  CHECK(file["id"].get<std::string>().starts_with("file-"));
  CHECK(file["object"] == "file");
  CHECK(file["bytes"] == content.size());
  CHECK(file["created_at"].is_number_integer());
  CHECK(file["filename"] == "input.jsonl");
  CHECK(file["purpose"] == "batch");
  CHECK(api.get_ok("/v1/files/" + file["id"].get<std::string>()) == file);

  auto created = api.create({{"input_file_id", file["id"]},
                             {"endpoint", chat_url},
                             {"completion_window", "24h"},
                             {"metadata", {{"run", "first"}}}});
  REQUIRE(created);
  REQUIRE(created->status == 200);
  auto batch = json::parse(created->body);
  auto id = batch["id"].get<std::string>();
  CHECK(id.starts_with("batch_"));
  CHECK(batch["object"] == "batch");
  CHECK(batch["endpoint"] == chat_url);
  CHECK(batch["errors"].is_null());
  CHECK(batch["input_file_id"] == file["id"]);
  CHECK(batch["completion_window"] == "24h");
  CHECK((batch["status"] == "in_progress" || batch["status"] == "completed"));
  CHECK(batch["in_progress_at"] == batch["created_at"]);
  CHECK(batch["expires_at"] == batch["created_at"].get<std::int64_t>() + std::int64_t{24} * 3600);
  CHECK(batch["failed_at"].is_null());
  CHECK(batch["request_counts"]["total"] == 4);
  CHECK(batch["metadata"] == json{{"run", "first"}});

  auto done = api.wait_finished(id);
  CHECK(done["status"] == "completed");
  CHECK(done["request_counts"] == json{{"total", 4}, {"completed", 4}, {"failed", 0}});
  CHECK(done["completed_at"].get<std::int64_t>() >= done["created_at"].get<std::int64_t>());
  CHECK(done["finalizing_at"].is_number_integer());
  for (const char* unset : {"failed_at", "expired_at", "cancelling_at", "cancelled_at"})
    CHECK_MESSAGE(done[unset].is_null(), unset);
  CHECK(done["error_file_id"].is_null());
  REQUIRE(done["output_file_id"].is_string());
  auto output_id = done["output_file_id"].get<std::string>();
  auto output_file = api.get_ok("/v1/files/" + output_id);
  CHECK(output_file["purpose"] == "batch_output");

  auto output = api.lines_of(output_id);
  REQUIRE(output.size() == 4);
  CHECK(custom_ids(output) == std::set<std::string>{"c0", "c1", "c2", "c3"});
  for (const auto& line : output) {
    CAPTURE(line.dump());
    CHECK(line["id"].get<std::string>().starts_with("batch_req_"));
    CHECK(line["error"].is_null());
    CHECK(line["response"]["status_code"] == 200);
    CHECK_FALSE(line["response"]["request_id"].get<std::string>().empty());
    auto index = std::stoul(line["custom_id"].get<std::string>().substr(1));
    auto online = api.post(chat_url, bodies[index].dump());
    REQUIRE(online);
    REQUIRE(online->status == 200);
    CHECK(without_id(line["response"]["body"]) == without_id(json::parse(online->body)));
  }
}

TEST_CASE("an embeddings batch answers as /v1/embeddings does, no delay completes it at once") {
  auto sim = start_sim({"--batch-delay-ms", "0"});
  BatchClient api(sim);
  json one = {{"model", "local"}, {"input", "alpha beta"}};
  json two = {{"model", "local"}, {"input", {"gamma", "delta epsilon"}}};
  auto file = api.upload_ok(
      jsonl({request_line("e1", one, embed_url), request_line("e2", two, embed_url)}));
  auto batch = api.create_ok(file, embed_url);
  CHECK(batch["status"] == "completed");
  CHECK(batch["request_counts"]["completed"] == 2);
  auto output = api.lines_of(batch["output_file_id"].get<std::string>());
  REQUIRE(output.size() == 2);
  for (const auto& line : output) {
    const auto& body = line["custom_id"] == "e1" ? one : two;
    auto online = api.post(embed_url, body.dump());
    REQUIRE(online);
    REQUIRE(online->status == 200);
    CHECK(line["response"]["body"] == json::parse(online->body));
  }
}

TEST_CASE("failed lines go to the error file, the others to the output file") {
  auto sim = start_sim({"--batch-delay-ms", "20"});
  BatchClient api(sim);
  auto file = api.upload_ok(jsonl({
      request_line("ok-1", chat_body("Hello there.")),
      request_line("marked", chat_body("Please SIM_FAIL_LINE this one.")),
      request_line("no-messages", json{{"model", "local"}}),
      request_line("ok-2", chat_body("Hello again.")),
  }));
  auto done = api.wait_finished(api.create_ok(file)["id"].get<std::string>());
  CHECK(done["status"] == "completed");
  CHECK(done["request_counts"] == json{{"total", 4}, {"completed", 2}, {"failed", 2}});
  REQUIRE(done["output_file_id"].is_string());
  REQUIRE(done["error_file_id"].is_string());
  CHECK(custom_ids(api.lines_of(done["output_file_id"].get<std::string>())) ==
        std::set<std::string>{"ok-1", "ok-2"});
  auto errors = api.lines_of(done["error_file_id"].get<std::string>());
  REQUIRE(errors.size() == 2);
  CHECK(custom_ids(errors) == std::set<std::string>{"marked", "no-messages"});
  for (const auto& line : errors) {
    CAPTURE(line.dump());
    CHECK(line["error"].is_null());
    CHECK(line["response"]["status_code"] == 400);
    CHECK(line["response"]["request_id"].is_string());
    CHECK(line["response"]["body"]["error"]["type"] == "invalid_request_error");
    if (line["custom_id"] == "no-messages") // the online decoder's own message
      CHECK(line["response"]["body"]["error"]["message"].get<std::string>().find("messages") !=
            std::string::npos);
  }
}

TEST_CASE("--batch-line-fault-rate fails lines with 500, the same lines for the same file") {
  auto sim = start_sim({"--batch-delay-ms", "0", "--batch-line-fault-rate", "0.5"});
  BatchClient api(sim);
  auto file = api.upload_ok(chat_lines(16));
  std::vector<std::set<std::string>> failed;
  for (int run = 0; run < 2; ++run) {
    auto batch = api.create_ok(file);
    REQUIRE(batch["status"] == "completed");
    auto count = batch["request_counts"]["failed"].get<int>();
    CHECK(count > 0); // 16 draws at 0.5 from seed 42: some fail, some do not
    CHECK(count < 16);
    auto errors = api.lines_of(batch["error_file_id"].get<std::string>());
    CHECK(errors.size() == static_cast<std::size_t>(count));
    for (const auto& line : errors) {
      CHECK(line["response"]["status_code"] == 500);
      CHECK(line["response"]["body"]["error"]["type"] == "server_error");
    }
    failed.push_back(custom_ids(errors));
  }
  CHECK(failed[0] == failed[1]);
}

TEST_CASE("--batch-expire-ms: the lines done in time are answered, the rest expire") {
  // 40 lines over 2 s, one every 50 ms; at 125 ms lines 0 and 1 are done.
  auto sim = start_sim({"--batch-delay-ms", "2000", "--batch-expire-ms", "125"});
  BatchClient api(sim);
  auto file = api.upload_ok(chat_lines(40));
  auto created = api.create_ok(file);
  CHECK(created["expires_at"].get<std::int64_t>() - created["created_at"].get<std::int64_t>() <= 1);
  auto done = api.wait_finished(created["id"].get<std::string>());
  CHECK(done["status"] == "expired");
  CHECK(done["expired_at"].is_number_integer());
  CHECK(done["completed_at"].is_null());
  CHECK(done["request_counts"] == json{{"total", 40}, {"completed", 2}, {"failed", 38}});
  CHECK(custom_ids(api.lines_of(done["output_file_id"].get<std::string>())) ==
        std::set<std::string>{"c0", "c1"});
  auto errors = api.lines_of(done["error_file_id"].get<std::string>());
  REQUIRE(errors.size() == 38);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    CHECK(errors[i]["custom_id"] == "c" + std::to_string(i + 2));
    CHECK(errors[i]["response"].is_null());
    CHECK(errors[i]["error"] ==
          json{{"code", "batch_expired"},
               {"message",
                "This request could not be executed before the completion window expired."}});
  }
  CHECK(sim.stats()["batch"]["lines_expired"] == 38);
}

TEST_CASE("cancel: the batch is cancelling, then cancelled, its lines in the error file") {
  auto sim = start_sim({"--batch-delay-ms", "60000"}); // no line is due within the test
  BatchClient api(sim);
  auto file = api.upload_ok(chat_lines(3));
  auto id = api.create_ok(file)["id"].get<std::string>();
  auto cancel = api.post("/v1/batches/" + id + "/cancel");
  REQUIRE(cancel);
  REQUIRE(cancel->status == 200);
  auto cancelling = json::parse(cancel->body);
  CHECK(cancelling["status"] == "cancelling");
  CHECK(cancelling["cancelling_at"].is_number_integer());
  CHECK(cancelling["cancelled_at"].is_null());

  auto cancelled = api.wait_finished(id);
  CHECK(cancelled["status"] == "cancelled");
  CHECK(cancelled["cancelled_at"].is_number_integer());
  CHECK(cancelled["request_counts"] == json{{"total", 3}, {"completed", 0}, {"failed", 3}});
  CHECK(cancelled["output_file_id"].is_null());
  auto errors = api.lines_of(cancelled["error_file_id"].get<std::string>());
  REQUIRE(errors.size() == 3);
  for (const auto& line : errors)
    CHECK(line["error"]["code"] == "batch_cancelled");

  auto again = api.post("/v1/batches/" + id + "/cancel");
  REQUIRE(again);
  CHECK(again->status == 400);
  CHECK(error_of(again)["message"] == "Cannot cancel a batch with status 'cancelled'.");
  CHECK(sim.stats()["batch"]["batches_cancelled"] == 1);
}

TEST_CASE("cancel: a completed batch cannot be cancelled") {
  auto sim = start_sim({"--batch-delay-ms", "0"});
  BatchClient api(sim);
  auto batch = api.create_ok(api.upload_ok(chat_lines(1)));
  REQUIRE(batch["status"] == "completed");
  auto cancel = api.post("/v1/batches/" + batch["id"].get<std::string>() + "/cancel");
  REQUIRE(cancel);
  CHECK(cancel->status == 400);
  CHECK(error_of(cancel)["message"] == "Cannot cancel a batch with status 'completed'.");
}

TEST_CASE("a malformed input file fails the batch, with errors naming code and line") {
  auto sim = start_sim({"--batch-delay-ms", "0"});
  BatchClient api(sim);
  std::string content;
  std::vector<std::pair<int, std::string>> expected; // line, code
  SUBCASE("bad lines") {
    content = jsonl({
        request_line("a", chat_body("fine")),
        "this is not JSON",
        json{{"method", "POST"}, {"url", chat_url}, {"body", chat_body("x")}}.dump(),
        request_line("a", chat_body("again")),
        request_line("b", chat_body("x"), embed_url),
        json{{"custom_id", "c"}, {"method", "GET"}, {"url", chat_url}, {"body", chat_body("x")}}
            .dump(),
        json{{"custom_id", "d"}, {"method", "POST"}, {"url", chat_url}, {"body", "text"}}.dump(),
        request_line("e", chat_body("x", {{"model", "other"}})),
    });
    expected = {{2, "invalid_json_line"},   {3, "missing_required_parameter"},
                {4, "duplicate_custom_id"}, {5, "url_mismatch"},
                {6, "invalid_value"},       {7, "invalid_type"},
                {8, "model_mismatch"}};
  }
  SUBCASE("an empty file") {
    content = "\n";
    expected = {{0, "empty_file"}};
  }
  SUBCASE("more than 50,000 requests") {
    for (int i = 0; i <= 50'000; ++i)
      content += "{}\n";
    expected = {{0, "too_many_tasks"}};
  }
  auto batch = api.create_ok(api.upload_ok(content));
  CHECK(batch["status"] == "failed");
  CHECK(batch["failed_at"].is_number_integer());
  CHECK(batch["in_progress_at"].is_null());
  CHECK(batch["output_file_id"].is_null());
  CHECK(batch["error_file_id"].is_null());
  CHECK(batch["request_counts"]["total"] == 0);
  REQUIRE(batch["errors"]["object"] == "list");
  const auto& data = batch["errors"]["data"];
  REQUIRE(data.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(data[i].dump());
    auto [line, code] = expected[i];
    CHECK(data[i]["code"] == code);
    CHECK_FALSE(data[i]["message"].get<std::string>().empty());
    if (line > 0)
      CHECK(data[i]["line"] == line);
    else
      CHECK(data[i]["line"].is_null());
  }
  CHECK(sim.stats()["batch"]["lines"] == 0);
}

TEST_CASE("unknown ids are 404 in OpenAI's error shape") {
  auto sim = start_sim();
  BatchClient api(sim);
  std::vector<httplib::Result> answers;
  answers.push_back(api.get("/v1/files/file-999"));
  answers.push_back(api.get("/v1/files/file-999/content"));
  answers.push_back(api.get("/v1/batches/batch_999"));
  answers.push_back(api.post("/v1/batches/batch_999/cancel"));
  answers.push_back(api.create(
      {{"input_file_id", "file-999"}, {"endpoint", chat_url}, {"completion_window", "24h"}}));
  for (const auto& res : answers) {
    REQUIRE(res);
    CHECK(res->status == 404);
    auto error = error_of(res);
    CHECK(error["type"] == "invalid_request_error");
    CHECK(error["message"].get<std::string>().find("999") != std::string::npos); // names the id
  }
}

TEST_CASE("requests the Batch API refuses are 400 with a message naming the problem") {
  auto sim = start_sim();
  BatchClient api(sim);
  auto file = api.upload_ok(chat_lines(1));
  auto expect_400 = [](const httplib::Result& res, const std::string& named) {
    REQUIRE(res);
    CHECK(res->status == 400);
    auto message = error_of(res)["message"].get<std::string>();
    CHECK_MESSAGE(message.find(named) != std::string::npos, message);
  };
  expect_400(api.upload(chat_lines(1), "fine-tune"), "purpose");
  expect_400(api.create({{"endpoint", chat_url}, {"completion_window", "24h"}}), "input_file_id");
  expect_400(
      api.create({{"input_file_id", file}, {"endpoint", chat_url}, {"completion_window", "1h"}}),
      "completion_window");
  expect_400(
      api.create(
          {{"input_file_id", file}, {"endpoint", "/v1/completions"}, {"completion_window", "24h"}}),
      "endpoint");
  expect_400(api.get("/v1/batches?limit=0"), "limit");

  // An output file is no input.
  auto other = start_sim({"--batch-delay-ms", "0"});
  BatchClient other_api(other);
  auto done = other_api.create_ok(other_api.upload_ok(chat_lines(1)));
  expect_400(other_api.create({{"input_file_id", done["output_file_id"]},
                               {"endpoint", chat_url},
                               {"completion_window", "24h"}}),
             "purpose");
}

TEST_CASE("GET /v1/batches lists the newest first, a page at a time") {
  auto sim = start_sim({"--batch-delay-ms", "0"});
  BatchClient api(sim);
  auto file = api.upload_ok(chat_lines(1));
  std::vector<std::string> ids(3);
  for (auto& id : ids)
    id = api.create_ok(file)["id"].get<std::string>();

  auto first = api.get_ok("/v1/batches?limit=2");
  CHECK(first["object"] == "list");
  REQUIRE(first["data"].size() == 2);
  CHECK(first["data"][0]["id"] == ids[2]);
  CHECK(first["data"][1]["id"] == ids[1]);
  CHECK(first["first_id"] == ids[2]);
  CHECK(first["last_id"] == ids[1]);
  CHECK(first["has_more"] == true);

  auto second = api.get_ok("/v1/batches?limit=2&after=" + ids[1]);
  REQUIRE(second["data"].size() == 1);
  CHECK(second["data"][0]["id"] == ids[0]);
  CHECK(second["has_more"] == false);

  CHECK(api.get_ok("/v1/batches")["data"].size() == 3);
}

TEST_CASE("/stats counts the Batch API's requests and lines, and /stats/reset zeroes them") {
  auto sim = start_sim({"--batch-delay-ms", "0"});
  BatchClient api(sim);
  auto file = api.upload_ok(jsonl({request_line("ok", chat_body("Count me.")),
                                   request_line("bad", chat_body("SIM_FAIL_LINE"))}));
  auto id = api.create_ok(file)["id"].get<std::string>();
  auto batch = api.get_ok("/v1/batches/" + id);
  api.get_ok("/v1/batches");
  auto output = api.lines_of(batch["output_file_id"].get<std::string>());
  api.lines_of(batch["error_file_id"].get<std::string>());
  api.get_ok("/v1/files/" + file);
  REQUIRE(api.get("/v1/batches/batch_999"));          // 404, counted as a request
  REQUIRE(api.post("/v1/batches/" + id + "/cancel")); // 400, too

  auto stats = sim.stats();
  CHECK(stats["batch"] == json{{"requests", 9},
                               {"files_uploaded", 1},
                               {"file_reads", 2},
                               {"batches_created", 1},
                               {"batch_retrieves", 1},
                               {"batches_cancelled", 0},
                               {"batch_lists", 1},
                               {"lines", 2},
                               {"lines_ok", 1},
                               {"lines_failed", 1},
                               {"lines_expired", 0},
                               {"lines_cancelled", 0}});
  // The answered line's tokens count with the online calls', of which there were none.
  REQUIRE(output.size() == 1);
  const auto& usage = output[0]["response"]["body"]["usage"];
  CHECK(stats["prompt_tokens"] == usage["prompt_tokens"]);
  CHECK(stats["completion_tokens"] == usage["completion_tokens"]);
  CHECK(stats["requests"] == 0);

  httplib::Client client("127.0.0.1", sim.port);
  auto reset = client.Post("/stats/reset");
  REQUIRE(reset);
  REQUIRE(reset->status == 200);
  auto zeroed = json::parse(reset->body)["batch"];
  for (const auto& count : zeroed.items())
    CHECK_MESSAGE(count.value() == 0, count.key());
  CHECK(api.get_ok("/v1/batches/" + id)["status"] == "completed"); // jobs stay
  CHECK(sim.stats()["batch"]["requests"] == 1);
}

TEST_CASE("--api-key: every Batch API endpoint needs the key") {
  auto sim = start_sim({"--api-key", "sk-batch"});
  BatchClient anonymous(sim);
  auto refused = anonymous.upload(chat_lines(1));
  REQUIRE(refused);
  CHECK(refused->status == 401);
  auto list = anonymous.get("/v1/batches");
  REQUIRE(list);
  CHECK(list->status == 401);

  BatchClient api(sim, {{"Authorization", "Bearer sk-batch"}});
  auto file = api.upload_ok(chat_lines(1));
  CHECK(api.create_ok(file)["status"] == "in_progress");
  auto content = anonymous.get("/v1/files/" + file + "/content");
  REQUIRE(content);
  CHECK(content->status == 401);
  CHECK(sim.stats()["unauthorized"] == 3);
}

TEST_CASE("--batch-enqueued-tokens: a batch that would pass the limit fails at creation") {
  auto request = actorflow::ChatRequest::user("How many tokens is this?");
  request.model = "local";
  request.max_tokens = 100;
  auto cost = actorflow::reserved_tokens(request);
  // Room for one such batch in progress, not two.
  auto sim = start_sim(
      {"--batch-delay-ms", "60000", "--batch-enqueued-tokens", std::to_string(cost + cost / 2)});
  BatchClient api(sim);
  auto file = api.upload_ok(
      jsonl({request_line("q", chat_body("How many tokens is this?", {{"max_tokens", 100}}))}));
  auto first = api.create_ok(file);
  CHECK(first["status"] == "in_progress");

  auto second = api.create_ok(file);
  CHECK(second["status"] == "failed");
  REQUIRE(second["errors"]["data"].size() == 1);
  const auto& error = second["errors"]["data"][0];
  CHECK(error["code"] == "token_limit_exceeded");
  CHECK(error["message"].get<std::string>().starts_with("Enqueued token limit reached for local"));

  // A cancelled batch holds no tokens.
  auto cancel = api.post("/v1/batches/" + first["id"].get<std::string>() + "/cancel");
  REQUIRE(cancel);
  REQUIRE(cancel->status == 200);
  CHECK(api.create_ok(file)["status"] == "in_progress");
}

TEST_CASE("a batch option out of range stops the sim before it listens") {
  CHECK_THROWS_AS(start_sim({"--batch-line-fault-rate", "2"}), std::runtime_error);
}
