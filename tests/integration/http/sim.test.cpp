// `actorflow sim` over real HTTP on loopback: each test starts its own sim process and talks to
// it with httplib. Every wait is bounded by an event (a line, an exit, a timeout), never a sleep.
#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/tokens.hpp>

#include "support/sim_process.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

namespace {

using actorflow::test::SimProcess;
using actorflow::test::Subprocess;
using json = nlohmann::json;
using namespace std::chrono_literals;

// httplib's client writes without MSG_NOSIGNAL: a write to a connection the sim has just
// closed (the drop fault, a stop) must fail with EPIPE, not end the test binary.
[[maybe_unused]] const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// A sim with few threads (these tests open a connection or two), plus `args`.
SimProcess start_sim(std::vector<std::string> args = {}) {
  args.insert(args.end(), {"--threads", "8"});
  return SimProcess(std::move(args));
}

const std::string prompt = "Summarize the plot of Hamlet in one line.";

std::string chat_body(const json& extra = json::object()) {
  json body = {{"model", "local"}, {"messages", {{{"role", "user"}, {"content", prompt}}}}};
  body.update(extra);
  return body.dump();
}

actorflow::ChatResponse expected_chat(std::optional<std::uint32_t> max_tokens = std::nullopt) {
  auto request = actorflow::ChatRequest::user(prompt);
  request.model = "local";
  request.max_tokens = max_tokens;
  return actorflow::local_chat(request, actorflow::default_token_estimator());
}

httplib::Result post(const SimProcess& sim, const std::string& path, const std::string& body,
                     const httplib::Headers& headers = {},
                     std::chrono::milliseconds read_timeout = 10s) {
  httplib::Client client("127.0.0.1", sim.port);
  client.set_read_timeout(read_timeout);
  return client.Post(path, headers, body, "application/json");
}

httplib::Result chat(const SimProcess& sim, const httplib::Headers& headers = {},
                     const json& extra = json::object()) {
  return post(sim, "/v1/chat/completions", chat_body(extra), headers);
}

json error_of(const httplib::Result& res) {
  auto body = json::parse(res->body, nullptr, false);
  REQUIRE_MESSAGE(body.contains("error"), res->body);
  return body["error"];
}

bool exited_cleanly(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

} // namespace

TEST_CASE("chat: an OpenAI chat completion holding the local model's answer and usage") {
  auto sim = start_sim();
  auto res = chat(sim);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  auto body = json::parse(res->body);
  auto expected = expected_chat();
  CHECK(body["id"].get<std::string>().starts_with("chatcmpl-"));
  CHECK(body["object"] == "chat.completion");
  CHECK(body["model"] == "local");
  CHECK(body["created"].is_number_integer());
  REQUIRE(body["choices"].size() == 1);
  CHECK(body["choices"][0]["index"] == 0);
  CHECK(body["choices"][0]["message"]["role"] == "assistant");
  CHECK(body["choices"][0]["message"]["content"] == expected.text);
  CHECK(body["choices"][0]["finish_reason"] == expected.finish_reason);
  CHECK(body["usage"]["prompt_tokens"] == expected.usage.prompt_tokens);
  CHECK(body["usage"]["completion_tokens"] == expected.usage.completion_tokens);
  CHECK(body["usage"]["total_tokens"] == expected.usage.total_tokens);

  auto stats = sim.stats();
  CHECK(stats["requests"] == 1);
  CHECK(stats["chat"] == 1);
  CHECK(stats["ok"] == 1);
  CHECK(stats["prompt_tokens"] == expected.usage.prompt_tokens);
  CHECK(stats["completion_tokens"] == expected.usage.completion_tokens);
  CHECK(stats["in_flight"] == 0);
  CHECK(stats["max_in_flight"] == 1);
}

TEST_CASE("embeddings: one vector per input, in input order, with usage") {
  auto sim = start_sim();
  std::vector<std::string> texts{"alpha beta", "gamma"};
  auto res = post(sim, "/v1/embeddings", json{{"model", "local"}, {"input", texts}}.dump());
  REQUIRE(res);
  CHECK(res->status == 200);
  auto body = json::parse(res->body);
  auto expected = actorflow::local_embed({.texts = texts, .model = "local"},
                                         actorflow::default_token_estimator());
  CHECK(body["object"] == "list");
  REQUIRE(body["data"].size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto& item = body["data"][i];
    CHECK(item["index"] == i);
    REQUIRE(item["embedding"].size() == actorflow::local_embedding_dimension);
    for (std::size_t d = 0; d < actorflow::local_embedding_dimension; ++d)
      CHECK(item["embedding"][d].get<float>() == doctest::Approx(expected.vectors[i][d]));
  }
  CHECK(body["usage"]["prompt_tokens"] ==
        actorflow::estimate_tokens(texts[0]) + actorflow::estimate_tokens(texts[1]));
  CHECK(sim.stats()["embeddings"] == 1);
}

TEST_CASE("streaming: server-sent chunks that add up to the answer, then [DONE]") {
  auto sim = start_sim();
  auto res = chat(sim, {}, {{"stream", true}, {"stream_options", {{"include_usage", true}}}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "text/event-stream");
  auto expected = expected_chat();

  std::vector<std::string> events;
  for (std::size_t start = 0; start < res->body.size();) {
    auto end = res->body.find("\n\n", start);
    REQUIRE(end != std::string::npos); // every event is terminated
    events.push_back(res->body.substr(start, end - start));
    start = end + 2;
  }
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "data: [DONE]");
  std::string text;
  std::size_t content_chunks = 0;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    REQUIRE(events[i].starts_with("data: "));
    auto chunk = json::parse(events[i].substr(6));
    CHECK(chunk["object"] == "chat.completion.chunk");
    const auto& choice = chunk["choices"][0];
    if (choice["delta"].contains("content")) {
      text += choice["delta"]["content"].get<std::string>();
      ++content_chunks;
    }
    bool last = i + 2 == events.size();
    CHECK(choice["finish_reason"].is_null() == !last);
    if (last) {
      CHECK(choice["finish_reason"] == expected.finish_reason);
      CHECK(chunk["usage"]["total_tokens"] == expected.usage.total_tokens);
    }
  }
  CHECK(text == expected.text);
  CHECK(content_chunks > 1); // word by word, not in one piece
}

TEST_CASE("--rpm: once the burst is spent, a call gets 429 with retry-after and limit headers") {
  // 6 per minute, a burst of 1: the second call waits 10 s, however slow this machine is.
  auto sim = start_sim({"--rpm", "6", "--burst-s", "1"});
  auto first = chat(sim);
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->get_header_value("x-ratelimit-limit-requests") == "6");
  CHECK(first->get_header_value("x-ratelimit-remaining-requests") == "0");
  CHECK(first->has_header("x-ratelimit-reset-requests"));
  CHECK_FALSE(first->has_header("x-ratelimit-limit-tokens")); // no --tpm

  auto second = chat(sim);
  REQUIRE(second);
  CHECK(second->status == 429);
  auto wait_ms = std::stoll(second->get_header_value("retry-after-ms"));
  CHECK(wait_ms > 8000);
  CHECK(wait_ms <= 10000);
  CHECK(second->get_header_value("retry-after") == std::to_string((wait_ms + 999) / 1000));
  CHECK(second->get_header_value("x-ratelimit-limit-requests") == "6");
  CHECK(second->get_header_value("x-ratelimit-remaining-requests") == "0");
  CHECK(second->has_header("x-ratelimit-reset-requests"));
  auto error = error_of(second);
  CHECK(error["type"] == "requests");
  CHECK(error["code"] == "rate_limit_exceeded");
  CHECK(error["message"].get<std::string>().starts_with("Rate limit reached for requests"));

  auto stats = sim.stats();
  CHECK(stats["requests"] == 2);
  CHECK(stats["ok"] == 1);
  CHECK(stats["rejected"] == 1);
  CHECK(stats["rejected_requests"] == 1);
  CHECK(stats["rejected_tokens"] == 0);
}

TEST_CASE("--tpm: a call may overdraw the token bucket, and the next one waits for the debt") {
  // 600 tokens per minute, a burst of 10: the first call (over 50 tokens) passes on a full
  // bucket and leaves it in debt; the second waits until 10 tokens are back. --no-settle: the
  // first call's answer, shorter than max_tokens, would otherwise refund most of the debt.
  auto sim = start_sim({"--tpm", "600", "--burst-s", "1", "--no-settle"});
  auto request = actorflow::ChatRequest::user(prompt);
  auto cost = actorflow::estimate_prompt_tokens(request, actorflow::default_token_estimator()) + 50;
  auto first = chat(sim, {}, {{"max_tokens", 50}});
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->get_header_value("x-ratelimit-limit-tokens") == "600");
  CHECK(first->get_header_value("x-ratelimit-remaining-tokens") == "0");

  auto second = chat(sim, {}, {{"max_tokens", 50}});
  REQUIRE(second);
  CHECK(second->status == 429);
  // The debt is cost - 10 tokens, then 10 more are needed, at 10 tokens a second.
  auto full_wait_ms = static_cast<long long>(cost) * 100;
  auto wait_ms = std::stoll(second->get_header_value("retry-after-ms"));
  CHECK(wait_ms <= full_wait_ms);
  CHECK(wait_ms > full_wait_ms - 2000);
  CHECK(error_of(second)["type"] == "tokens");
  auto stats = sim.stats();
  CHECK(stats["rejected_tokens"] == 1);
  CHECK(stats["rejected_requests"] == 0);
}

TEST_CASE("--tpm: an answer settles the token bucket with its actual usage, unless --no-settle") {
  // A bucket of 1000 tokens refilled at 2 a second: the level moves by a few tokens at most
  // between two calls, far less than what settling changes.
  std::vector<std::string> args{"--tpm", "120", "--burst-s", "500"};
  bool settle = true;
  SUBCASE("settling (the default)") {}
  SUBCASE("--no-settle") {
    args.emplace_back("--no-settle");
    settle = false;
  }
  auto sim = start_sim(args);
  auto request = actorflow::ChatRequest::user(prompt);
  auto prompt_cost =
      actorflow::estimate_prompt_tokens(request, actorflow::default_token_estimator());
  auto cost = prompt_cost + 50;
  auto used = expected_chat(50).usage.total_tokens;
  REQUIRE(used < cost); // the answer is shorter than max_tokens: a refund
  auto remaining = [](const httplib::Result& res) {
    return std::stoll(res->get_header_value("x-ratelimit-remaining-tokens"));
  };

  auto first = chat(sim, {}, {{"max_tokens", 50}});
  REQUIRE(first);
  REQUIRE(first->status == 200);
  CHECK(remaining(first) == static_cast<long long>(1000 - cost)); // charged in full on admission
  auto second = chat(sim, {}, {{"max_tokens", 50}});
  REQUIRE(second);
  REQUIRE(second->status == 200);
  auto refund = settle ? static_cast<long long>(cost - used) : 0;
  auto floor = static_cast<long long>(1000 - 2 * cost) + refund;
  CHECK(remaining(second) >= floor);
  CHECK(remaining(second) <= floor + 10); // refilled for 5 s at most

  // Without max_tokens the call reserves its prompt only, and its answer is a debt.
  auto third = chat(sim);
  REQUIRE(third);
  REQUIRE(third->status == 200);
  auto debt = expected_chat().usage.total_tokens - prompt_cost;
  REQUIRE(debt > 0);

  auto stats = sim.stats();
  CHECK(stats["ok"] == 3);
  CHECK(stats["tokens_charged"] == 2 * cost + prompt_cost);
  CHECK(stats["tokens_refunded"] == (settle ? 2 * (cost - used) : 0));
  CHECK(stats["tokens_debited"] == (settle ? debt : 0));
  if (settle) // the bucket was charged exactly what the answers used
    CHECK(stats["tokens_charged"].get<std::uint64_t>() -
              stats["tokens_refunded"].get<std::uint64_t>() +
              stats["tokens_debited"].get<std::uint64_t>() ==
          stats["prompt_tokens"].get<std::uint64_t>() +
              stats["completion_tokens"].get<std::uint64_t>());
}

TEST_CASE("--tpm: a call bigger than the per-minute limit is refused as request_too_large") {
  auto sim = start_sim({"--tpm", "100"});
  auto res = chat(sim, {}, {{"max_tokens", 1000}});
  REQUIRE(res);
  CHECK(res->status == 400);
  auto error = error_of(res);
  CHECK(error["type"] == "invalid_request_error");
  CHECK(error["code"] == "request_too_large");
  auto message = error["message"].get<std::string>();
  CHECK(message.find("100 tokens per minute") != std::string::npos); // names the limit
  auto stats = sim.stats();
  CHECK(stats["too_large"] == 1);
  CHECK(stats["rejected"] == 0);
}

TEST_CASE("--api-key: a wrong or missing key is refused with 401, the right one passes") {
  auto sim = start_sim({"--api-key", "sk-sim-right"});
  auto wrong = chat(sim, {{"Authorization", "Bearer sk-sim-wrong"}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto error = error_of(wrong);
  // Echoed in full on purpose, so that client tests can check that they scrub it.
  CHECK(error["message"] == "Incorrect API key provided: sk-sim-wrong");
  CHECK(error["code"] == "invalid_api_key");

  auto missing = chat(sim);
  REQUIRE(missing);
  CHECK(missing->status == 401);

  auto right = chat(sim, {{"Authorization", "Bearer sk-sim-right"}});
  REQUIRE(right);
  CHECK(right->status == 200);
  auto stats = sim.stats();
  CHECK(stats["unauthorized"] == 2);
  CHECK(stats["ok"] == 1);
}

TEST_CASE("x-sim-fault: 500 answers a server error with an error body") {
  auto sim = start_sim();
  auto res = chat(sim, {{"x-sim-fault", "500"}});
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(error_of(res)["type"] == "server_error");
  auto stats = sim.stats();
  CHECK(stats["faults"]["500"] == 1);
  CHECK(stats["ok"] == 0);
}

TEST_CASE("x-sim-fault: drop closes the connection before the answer is complete") {
  auto sim = start_sim();
  auto res = chat(sim, {{"x-sim-fault", "drop"}});
  REQUIRE_FALSE(res);
  CHECK(res.error() == httplib::Error::Read);
  auto embed = post(sim, "/v1/embeddings", R"({"input":"x"})", {{"x-sim-fault", "drop"}});
  CHECK_FALSE(embed);
  CHECK(sim.stats()["faults"]["drop"] == 2);
}

TEST_CASE("x-sim-fault: malformed answers 200 with a body that is not JSON") {
  auto sim = start_sim();
  auto res = chat(sim, {{"x-sim-fault", "malformed"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_FALSE(res->body.empty());
  CHECK_FALSE(json::accept(res->body));

  // In a stream, an event that is not JSON, and then a regular end.
  auto stream = chat(sim, {{"x-sim-fault", "malformed"}}, {{"stream", true}});
  REQUIRE(stream);
  CHECK(stream->status == 200);
  REQUIRE(stream->body.starts_with("data: {"));
  auto first_event = stream->body.substr(6, stream->body.find("\n\n") - 6);
  CHECK_FALSE(json::accept(first_event));
  CHECK(stream->body.ends_with("data: [DONE]\n\n"));
  CHECK(sim.stats()["faults"]["malformed"] == 2);
}

TEST_CASE("x-sim-fault: missing answers valid JSON without choices or data") {
  auto sim = start_sim();
  auto res = chat(sim, {{"x-sim-fault", "missing"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  auto body = json::parse(res->body);
  CHECK(body["object"] == "chat.completion");
  CHECK_FALSE(body.contains("choices"));

  auto embed = post(sim, "/v1/embeddings", R"({"input":["x"]})", {{"x-sim-fault", "missing"}});
  REQUIRE(embed);
  CHECK(embed->status == 200);
  auto embed_body = json::parse(embed->body);
  CHECK(embed_body["object"] == "list");
  CHECK_FALSE(embed_body.contains("data"));
  CHECK(sim.stats()["faults"]["missing"] == 2);
}

TEST_CASE("x-sim-fault: slow outlasts the client's timeout, and a stop does not wait for it") {
  auto sim = start_sim({"--slow-ms", "60000"});
  auto res = post(sim, "/v1/chat/completions", chat_body(), {{"x-sim-fault", "slow"}}, 300ms);
  REQUIRE_FALSE(res);
  CHECK(res.error() == httplib::Error::Read);
  CHECK(sim.stats()["faults"]["slow"] == 1);

  // The slow call still sleeps on the sim's side; SIGTERM must cut it short.
  sim.process().signal(SIGTERM);
  int status = -1;
  REQUIRE(sim.process().wait_exit(10s, &status));
  CHECK(exited_cleanly(status));
}

TEST_CASE("x-sim-fault: slow with a short --slow-ms answers normally, late") {
  auto sim = start_sim({"--slow-ms", "50"});
  auto res = chat(sim, {{"x-sim-fault", "slow"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body)["choices"][0]["message"]["content"] == expected_chat().text);
}

TEST_CASE("--fault-rate 1 injects one of --faults into every admitted call") {
  auto sim = start_sim({"--fault-rate", "1", "--faults", "500"});
  for (int i = 0; i < 3; ++i) {
    auto res = chat(sim);
    REQUIRE(res);
    CHECK(res->status == 500);
  }
  CHECK(sim.stats()["faults"]["500"] == 3);
}

TEST_CASE("x-sim-latency-ms holds the answer back at least that long") {
  auto sim = start_sim();
  auto t0 = std::chrono::steady_clock::now();
  auto res = chat(sim, {{"x-sim-latency-ms", "150"}});
  auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(elapsed >= 150ms);
}

TEST_CASE("a bad request is 400 with a message naming the problem") {
  auto sim = start_sim();
  auto not_json = post(sim, "/v1/chat/completions", "{\"messages\": [");
  REQUIRE(not_json);
  CHECK(not_json->status == 400);
  CHECK(error_of(not_json)["type"] == "invalid_request_error");

  auto no_messages = post(sim, "/v1/chat/completions", R"({"model":"local"})");
  REQUIRE(no_messages);
  CHECK(no_messages->status == 400);
  CHECK(error_of(no_messages)["message"].get<std::string>().find("messages") != std::string::npos);

  auto unknown_fault = chat(sim, {{"x-sim-fault", "fire"}});
  REQUIRE(unknown_fault);
  CHECK(unknown_fault->status == 400);
  CHECK(sim.stats()["bad_request"] == 3);
}

TEST_CASE("unknown paths are 404, while /health, /v1/models and /stats/reset answer") {
  auto sim = start_sim();
  httplib::Client client("127.0.0.1", sim.port);
  auto missing = client.Get("/v1/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(error_of(missing)["code"] == "unknown_url");

  auto health = client.Get("/health");
  REQUIRE(health);
  CHECK(health->body == "ok");
  auto models = client.Get("/v1/models");
  REQUIRE(models);
  CHECK(json::parse(models->body)["data"][0]["id"] == "local");

  REQUIRE(chat(sim));
  CHECK(sim.stats()["requests"] == 1);
  auto reset = client.Post("/stats/reset");
  REQUIRE(reset);
  CHECK(reset->status == 200);
  CHECK(sim.stats()["requests"] == 0);
}

TEST_CASE("SIGTERM ends the sim at once with exit code 0, idle keep-alive connections open") {
  auto sim = start_sim();
  httplib::Client client("127.0.0.1", sim.port);
  client.set_keep_alive(true); // the connection stays open and idle after the answer
  auto res = client.Post("/v1/chat/completions", chat_body(), "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);

  auto t0 = std::chrono::steady_clock::now();
  sim.process().signal(SIGTERM);
  int status = -1;
  // Well under the sim's 30 s keep-alive timeout, which an idle connection would otherwise
  // hold the stop to.
  REQUIRE(sim.process().wait_exit(10s, &status));
  CHECK(exited_cleanly(status));
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
}

TEST_CASE("a port in use is an error: exit code 1 and no port printed") {
  auto sim = start_sim();
  auto second = Subprocess::start({ACTORFLOW_CLI, "sim", "--port", std::to_string(sim.port)});
  REQUIRE(second);
  CHECK_FALSE(second->read_line(10s)); // stdout closes without the JSON line
  int status = -1;
  REQUIRE(second->wait_exit(10s, &status));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("Subprocess: a program that cannot run is an error naming it") {
  auto missing = Subprocess::start({"/nonexistent/actorflow"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("/nonexistent/actorflow") != std::string::npos);
}
