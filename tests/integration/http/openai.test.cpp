// The openai provider against a real `actorflow sim` process on loopback: parsed answers and
// usage, every fault kind as its typed error, 429 with Retry-After, the key kept out of error
// text, streaming, and tool calls and schema answers (spoiled on request). (1,000 requests in
// flight: load.test.cpp.)
#include <actorflow/local_model.hpp>
#include <actorflow/openai.hpp>
#include <actorflow/tokens.hpp>

#include "support/sim_process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <mutex>

using namespace actorflow;
using namespace actorflow::test;
using namespace std::chrono_literals;

namespace {

/// Starts a call with `start(done)` and waits (bounded) for its outcome.
template <class T, class Start>
ModelOutcome<T> wait_for_outcome(Start start) {
  std::promise<ModelOutcome<T>> promise;
  auto future = promise.get_future();
  start([&](ModelOutcome<T> outcome) { promise.set_value(std::move(outcome)); });
  REQUIRE(future.wait_for(30s) == std::future_status::ready);
  return future.get();
}

ModelOutcome<ChatResponse> chat_and_wait(OpenAiProvider& provider, ChatRequest request) {
  return wait_for_outcome<ChatResponse>(
      [&](ModelProvider::ChatDone done) { provider.chat(std::move(request), std::move(done)); });
}

ModelOutcome<Embeddings> embed_and_wait(OpenAiProvider& provider, EmbedRequest request) {
  return wait_for_outcome<Embeddings>(
      [&](ModelProvider::EmbedDone done) { provider.embed(std::move(request), std::move(done)); });
}

/// A provider that forces `fault` on every request (the sim's x-sim-fault header).
OpenAiConfig with_fault(OpenAiConfig config, std::string fault) {
  config.headers.emplace_back("x-sim-fault", std::move(fault));
  return config;
}

const std::string summary_text =
    "Actors share nothing. Each actor owns its state and handles one message at a time. "
    "Messages between actors are the only way actors interact. The weather was pleasant.";

} // namespace

TEST_CASE("chat through the sim: the answer is the local model's, with usage") {
  SimProcess sim;
  OpenAiProvider provider(sim_config(sim));
  auto request = ChatRequest::user("Summarize: " + summary_text);
  auto outcome = chat_and_wait(provider, request);
  REQUIRE_MESSAGE(outcome.result.ok(), outcome.result.error().to_string());
  auto expected = local_chat(request, default_token_estimator());
  CHECK(outcome.result->text == expected.text);
  CHECK(outcome.result->finish_reason == "stop");
  CHECK(outcome.result->usage == expected.usage);
  CHECK(outcome.result->model == "local");
  CHECK(sim.stats()["chat"] == 1);
}

TEST_CASE("embed through the sim: one vector per text, in order, with usage") {
  SimProcess sim;
  OpenAiProvider provider(sim_config(sim));
  EmbedRequest request;
  request.texts = {"the cat sat on the mat", "a dog barked", "the cat sat on a mat"};
  auto outcome = embed_and_wait(provider, request);
  REQUIRE_MESSAGE(outcome.result.ok(), outcome.result.error().to_string());
  auto expected = local_embed(request, default_token_estimator());
  REQUIRE(outcome.result->vectors.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(outcome.result->vectors[i].size() == expected.vectors[i].size());
    CHECK(cosine_similarity(outcome.result->vectors[i], expected.vectors[i]) > 0.9999);
  }
  CHECK(outcome.result->usage.prompt_tokens == expected.usage.prompt_tokens);
}

TEST_CASE("a streamed chat hands pieces to on_token and ends with the whole text") {
  SimProcess sim;
  OpenAiProvider provider(sim_config(sim));
  auto request = ChatRequest::user("Summarize: " + summary_text);
  std::mutex mutex;
  std::vector<std::string> pieces;
  request.on_token = [&](std::string_view piece) {
    std::lock_guard guard(mutex);
    pieces.emplace_back(piece);
  };
  auto outcome = chat_and_wait(provider, request);
  REQUIRE_MESSAGE(outcome.result.ok(), outcome.result.error().to_string());
  auto expected = local_chat(request, default_token_estimator());
  CHECK(outcome.result->text == expected.text);
  std::string joined;
  for (const auto& p : pieces)
    joined += p;
  CHECK(joined == expected.text);
  CHECK(pieces.size() > 1);
  CHECK(outcome.result->usage.total_tokens == expected.usage.total_tokens);
}

TEST_CASE("every fault kind arrives as its typed error") {
  SimProcess sim({"--slow-ms", "5000"});
  auto check_fault = [&](std::string fault, Errc expected, std::string_view words) {
    CAPTURE(fault);
    auto config = with_fault(sim_config(sim), fault);
    config.timeout = 500ms; // for "slow"
    OpenAiProvider provider(config);
    auto outcome = chat_and_wait(provider, ChatRequest::user("hello"));
    REQUIRE_FALSE(outcome.result.ok());
    CHECK(outcome.result.error().code == expected);
    CHECK(is_retryable(outcome.result.error().code));
    CHECK_MESSAGE(outcome.result.error().message.find(words) != std::string::npos,
                  outcome.result.error().message);
    CHECK(outcome.result.error().message.find("/chat/completions") != std::string::npos);
  };
  check_fault("500", Errc::server_error, "HTTP 500");
  check_fault("drop", Errc::connection_failed, "POST");
  check_fault("malformed", Errc::bad_response, "not valid JSON");
  check_fault("missing", Errc::bad_response, "choices: missing");
  check_fault("slow", Errc::timeout, "imed out");
}

namespace {

/// A loopback port bound but not listening, held for its lifetime: a connect to it is refused,
/// and no other process (a sim of a test running alongside) can take it meanwhile.
class RefusingPort {
public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t size = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size) == 0);
    port = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  int port = 0;

private:
  int fd_;
};

} // namespace

TEST_CASE("no server on the port is connection_failed, and a bad base URL is bad_input") {
  RefusingPort nobody;
  int port = nobody.port;
  OpenAiConfig config;
  config.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  config.timeout = 5s;
  OpenAiProvider provider(config);
  auto refused = chat_and_wait(provider, ChatRequest::user("hello"));
  REQUIRE_FALSE(refused.result.ok());
  CHECK(refused.result.error().code == Errc::connection_failed);

  config.base_url = "ftp://example.com";
  OpenAiProvider bad(config);
  auto outcome = chat_and_wait(bad, ChatRequest::user("hello"));
  REQUIRE_FALSE(outcome.result.ok());
  CHECK(outcome.result.error().code == Errc::bad_input);
  CHECK(outcome.result.error().message.find("base_url") != std::string::npos);
}

TEST_CASE("a 429 carries Retry-After and the rate-limit headers through") {
  // One request, then one per 10 s: the second is refused however slow this machine is.
  SimProcess sim({"--rpm", "6", "--burst-s", "1"});
  OpenAiProvider provider(sim_config(sim));
  auto first = chat_and_wait(provider, ChatRequest::user("one"));
  REQUIRE_MESSAGE(first.result.ok(), first.result.error().to_string());
  CHECK(first.result->rate_limits.limit_requests == 6u);
  CHECK(first.result->rate_limits.remaining_requests == 0u);
  auto second = chat_and_wait(provider, ChatRequest::user("two"));
  REQUIRE_FALSE(second.result.ok());
  const auto& error = second.result.error();
  CHECK(error.code == Errc::rate_limited);
  REQUIRE(error.retry_after.has_value());
  CHECK(*error.retry_after > 0ms);
  CHECK(*error.retry_after <= 10000ms); // at most one refill interval
  CHECK(second.rate_limits.limit_requests == 6u);
  CHECK(second.rate_limits.reset_requests.has_value());
  CHECK(sim.stats()["rejected"] == 1);
}

TEST_CASE("the API key never appears in error text, even when the server echoes it") {
  SimProcess sim({"--api-key", "sk-right-key"});
  auto config = sim_config(sim);
  config.api_key = "sk-WRONG-secret-123";
  OpenAiProvider provider(config);
  auto outcome = chat_and_wait(provider, ChatRequest::user("hello"));
  REQUIRE_FALSE(outcome.result.ok());
  CHECK(outcome.result.error().code == Errc::bad_request);
  CHECK(outcome.result.error().message.find("HTTP 401") != std::string::npos);
  CHECK(outcome.result.error().message.find("sk-WRONG-secret-123") == std::string::npos);
  CHECK(outcome.result.error().message.find("[redacted]") != std::string::npos);
  config.api_key = "sk-right-key";
  OpenAiProvider right(config);
  CHECK(chat_and_wait(right, ChatRequest::user("hello")).result.ok());
}

TEST_CASE("tool calls and schema answers through the sim, streamed too, and spoiled on request") {
  SimProcess sim;
  auto request = ChatRequest::user(R"(Use the calculator with expression "6 * 7".)");
  request.tools = {ToolSpec{"calculator", "evaluates",
                            from_json(R"({"type":"object","properties":{
                                "expression":{"type":"string"}},"required":["expression"]})")
                                .value()}};
  OpenAiProvider provider(sim_config(sim));
  auto plain = chat_and_wait(provider, request);
  REQUIRE(plain.result.ok());
  REQUIRE(plain.result->tool_calls.size() == 1);
  CHECK(plain.result->tool_calls[0].arguments == R"({"expression":"6 * 7"})");
  CHECK(plain.result->finish_reason == "tool_calls");

  auto streamed_request = request;
  std::string pieces;
  streamed_request.on_token = [&](std::string_view p) { pieces += p; };
  auto streamed = chat_and_wait(provider, streamed_request);
  REQUIRE(streamed.result.ok());
  CHECK(streamed.result->tool_calls == plain.result->tool_calls); // assembled from pieces

  OpenAiProvider spoiled(with_fault(sim_config(sim), "bad_tool_args"));
  auto bad = chat_and_wait(spoiled, request);
  REQUIRE(bad.result.ok()); // the envelope is fine; the arguments are not JSON
  REQUIRE(bad.result->tool_calls.size() == 1);
  CHECK_FALSE(from_json(bad.result->tool_calls[0].arguments).ok());

  auto schema_request = ChatRequest::user("x is 4");
  schema_request.response_format = ResponseFormat::json_schema(
      "point", from_json(R"({"type":"object","properties":{"x":{"type":"integer"}}})").value());
  auto instance = chat_and_wait(provider, schema_request);
  REQUIRE(instance.result.ok());
  CHECK(instance.result->text == R"({"x":4})");
  OpenAiProvider garbled(with_fault(sim_config(sim), "bad_json"));
  auto cut = chat_and_wait(garbled, schema_request);
  REQUIRE(cut.result.ok());
  CHECK_FALSE(from_json(cut.result->text).ok());
}
