// OpenAI's wire format both ways, and the local provider's chat and embed rules.
#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/tokens.hpp>

#include "providers/openai_wire.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace actorflow;
using namespace std::chrono_literals;

TEST_CASE("a chat request goes out in OpenAI's shape and comes back the same") {
  auto request = ChatRequest::user("Summarize: a. b.");
  request.messages.insert(request.messages.begin(), {"system", "be brief"});
  request.max_tokens = 50;
  request.temperature = 0.5;
  request.stop = {"END"};
  auto body = wire::encode_chat_request(request, "gpt-x", false);
  auto json = nlohmann::json::parse(body);
  CHECK(json["model"] == "gpt-x");
  CHECK(json["messages"][1]["content"] == "Summarize: a. b.");
  CHECK_FALSE(json.contains("stream"));
  auto back = wire::decode_chat_request(body);
  REQUIRE(back.ok());
  CHECK(back->request.messages == request.messages);
  CHECK(back->request.max_tokens == 50u);
  CHECK(back->request.stop == std::vector<std::string>{"END"});
  CHECK(back->request.model == "gpt-x");
  CHECK_FALSE(back->stream);
  auto streamed = wire::decode_chat_request(wire::encode_chat_request(request, "m", true));
  REQUIRE(streamed.ok());
  CHECK(streamed->stream);
  CHECK(streamed->include_usage);
}

TEST_CASE("a malformed chat request names the field that is wrong") {
  auto missing = wire::decode_chat_request(R"({"model":"m"})");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::bad_request);
  CHECK(missing.error().message == "messages: missing");
  auto bad_content = wire::decode_chat_request(R"({"messages":[{"role":"user","content":3}]})");
  REQUIRE_FALSE(bad_content.ok());
  CHECK(bad_content.error().message ==
        "messages[0].content: expected a string or an array of content parts");
  auto not_json = wire::decode_chat_request("{oops");
  REQUIRE_FALSE(not_json.ok());
  CHECK(not_json.error().message.find("not valid JSON") != std::string::npos);
}

TEST_CASE("a chat response decodes text, finish reason, model and usage") {
  ChatResponse r;
  r.text = "hello";
  r.finish_reason = "length";
  r.model = "m1";
  r.usage = {10, 2, 12};
  auto back = wire::decode_chat_response(wire::encode_chat_response(r, "chatcmpl-1", 0));
  REQUIRE(back.ok());
  CHECK(back->text == "hello");
  CHECK(back->finish_reason == "length");
  CHECK(back->model == "m1");
  CHECK(back->usage == Usage{10, 2, 12});
}

TEST_CASE("a broken chat response is bad_response naming what is missing") {
  auto check_error = [](std::string_view body, std::string_view expected) {
    auto r = wire::decode_chat_response(body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_response);
    CHECK(r.error().message == expected);
  };
  check_error(R"({"id":"x"})", "choices: missing");
  check_error(R"({"choices":[]})", "choices: expected a non-empty array");
  check_error(R"({"choices":[{"index":0}]})", "choices[0].message: missing");
  check_error(R"({"choices":[{"message":{"role":"assistant"}}]})",
              "choices[0].message.content: missing");
  check_error("", "the body is empty");
  auto cut = wire::decode_chat_response(R"({"choices":[{"message":{"content":"hel)");
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().message.find("not valid JSON") != std::string::npos);
  // A null content (a refusal, a tool call) is legal and reads as empty text.
  auto null_content = wire::decode_chat_response(R"({"choices":[{"message":{"content":null}}]})");
  REQUIRE(null_content.ok());
  CHECK(null_content->text.empty());
}

TEST_CASE("a streamed answer is reassembled from chunks split anywhere") {
  std::string stream;
  stream += wire::encode_chat_chunk("c1", 0, "m", {.text = "Hello"}, std::nullopt, std::nullopt);
  stream += wire::encode_chat_chunk("c1", 0, "m", {.text = " world"}, std::nullopt, std::nullopt);
  stream += wire::encode_chat_chunk("c1", 0, "m", {}, "stop", Usage{5, 2, 7});
  stream += wire::sse_done();
  for (std::size_t cut : {std::size_t{1}, std::size_t{7}, stream.size() / 2}) {
    wire::ChatStreamDecoder decoder;
    std::vector<std::string> pieces;
    auto on_piece = [&](std::string_view p) { pieces.emplace_back(p); };
    REQUIRE(decoder.feed(std::string_view(stream).substr(0, cut), on_piece).ok());
    REQUIRE(decoder.feed(std::string_view(stream).substr(cut), on_piece).ok());
    auto r = decoder.finish();
    REQUIRE(r.ok());
    CHECK(pieces == std::vector<std::string>{"Hello", " world"});
    CHECK(r->text == "Hello world");
    CHECK(r->finish_reason == "stop");
    CHECK(r->usage == Usage{5, 2, 7});
  }
  wire::ChatStreamDecoder unfinished;
  REQUIRE(unfinished
              .feed(wire::encode_chat_chunk("c", 0, "m", {.text = "x"}, std::nullopt, std::nullopt),
                    [](std::string_view) {})
              .ok());
  auto r = unfinished.finish();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("[DONE]") != std::string::npos);
}

TEST_CASE("embeddings come back in input order, and a count mismatch is an error") {
  auto json = R"({"data":[{"index":1,"embedding":[0.5]},{"index":0,"embedding":[1,2]}],
                  "model":"e","usage":{"prompt_tokens":4,"total_tokens":4}})";
  auto r = wire::decode_embed_response(json, 2);
  REQUIRE(r.ok());
  CHECK(r->vectors[0] == std::vector<float>{1.0f, 2.0f});
  CHECK(r->vectors[1] == std::vector<float>{0.5f});
  CHECK(r->usage.total_tokens == 4);
  auto short_answer = wire::decode_embed_response(json, 3);
  REQUIRE_FALSE(short_answer.ok());
  CHECK(short_answer.error().message == "data: holds 2 embeddings for 3 inputs");
  auto request = wire::decode_embed_request(R"({"input":"one text","model":"e"})");
  REQUIRE(request.ok());
  CHECK(request->texts == std::vector<std::string>{"one text"});
}

TEST_CASE("rate-limit headers, Retry-After and reset durations are parsed") {
  wire::Headers h = {{"x-ratelimit-limit-requests", "60"},
                     {"x-ratelimit-remaining-requests", "59"},
                     {"x-ratelimit-reset-requests", "1s"},
                     {"x-ratelimit-limit-tokens", "150000"},
                     {"x-ratelimit-remaining-tokens", "149984"},
                     {"x-ratelimit-reset-tokens", "6m0s"},
                     {"retry-after", "3"}};
  auto limits = wire::parse_rate_limits(h);
  CHECK(limits.limit_requests == 60u);
  CHECK(limits.remaining_requests == 59u);
  CHECK(limits.reset_requests == 1000ms);
  CHECK(limits.remaining_tokens == 149984u);
  CHECK(limits.reset_tokens == 360000ms);
  CHECK(wire::parse_retry_after(h) == 3000ms);
  h.emplace_back("retry-after-ms", "1250"); // the precise one wins
  CHECK(wire::parse_retry_after(h) == 1250ms);
  CHECK(wire::parse_duration("20ms") == 20ms);
  CHECK(wire::parse_duration("1h2m3.5s") == 3723500ms);
  CHECK(wire::parse_duration("0.5s") == 500ms);
  CHECK_FALSE(wire::parse_duration("soon"));
  CHECK_FALSE(wire::parse_duration("5"));
  for (auto d : {20ms, 1000ms, 61500ms, 3723005ms})
    CHECK(wire::parse_duration(wire::format_duration(d)) == d);
  CHECK(wire::format_duration(61500ms) == "1m1.5s");
  CHECK(wire::parse_rate_limits({}).empty());
}

TEST_CASE("error bodies: OpenAI's object, and the plain string some servers send") {
  CHECK(wire::decode_error_message(wire::encode_error("boom", "server_error")) == "boom");
  CHECK(wire::decode_error_message(R"({"error":"model not found"})") == "model not found");
  CHECK_FALSE(wire::decode_error_message("<html>502</html>"));
}

// -- the local provider ---------------------------------------------------------------------------

TEST_CASE("local chat: summaries are sentences of the input, usage is counted") {
  std::string text = "Rust and C++ compete. Actors isolate state. Actors communicate by messages. "
                     "Messages make actors safe. Bananas are yellow.";
  auto request = ChatRequest::user("Summarize: " + text);
  auto r = local_chat(request, default_token_estimator());
  CHECK(r.finish_reason == "stop");
  CHECK(r.model == "local");
  auto sentences = split_sentences(text);
  REQUIRE_FALSE(split_sentences(r.text).empty()); // the loop below checks something
  for (const auto& s : split_sentences(r.text))
    CHECK(std::find(sentences.begin(), sentences.end(), s) != sentences.end());
  CHECK(r.usage.prompt_tokens == estimate_prompt_tokens(request, default_token_estimator()));
  CHECK(r.usage.prompt_tokens == estimate_tokens(request.prompt()) + 3);
  CHECK(r.usage.completion_tokens == estimate_tokens(r.text));
  CHECK(r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens);
  CHECK(local_chat(request, default_token_estimator()).text == r.text); // deterministic
}

TEST_CASE("local chat honours stop sequences and max_tokens") {
  auto request = ChatRequest::user("Tell me something about actor systems and message passing");
  auto full = local_chat(request, default_token_estimator());
  request.max_tokens = 4;
  auto cut = local_chat(request, default_token_estimator());
  CHECK(cut.finish_reason == "length");
  CHECK(estimate_tokens(cut.text) <= 4);
  CHECK(full.text.starts_with(cut.text));
  request.max_tokens.reset();
  request.stop = {"actor"};
  auto stopped = local_chat(request, default_token_estimator());
  CHECK(stopped.text.find("actor") == std::string::npos);
  CHECK(full.text.starts_with(stopped.text));
}

TEST_CASE("local embeddings: near-duplicates are closer than unrelated texts") {
  EmbedRequest request;
  request.texts = {"The cat sat on the warm mat by the door.",
                   "The cat was sitting on the warm mat near the door.",
                   "Quarterly revenue grew eleven percent on strong bond sales."};
  auto e = local_embed(request, default_token_estimator());
  REQUIRE(e.vectors.size() == 3);
  CHECK(e.vectors[0].size() == local_embedding_dimension);
  auto near = cosine_similarity(e.vectors[0], e.vectors[1]);
  auto far = cosine_similarity(e.vectors[0], e.vectors[2]);
  CHECK(near > far + 0.3);
  CHECK(local_embed(request, default_token_estimator()).vectors == e.vectors);
  CHECK(e.usage.prompt_tokens > 0);
}
