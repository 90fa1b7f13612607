// The chat protocol's newer fields on the wire, both ways: tools, tool choice, tool calls and
// results, content parts, response formats, sampling options, extra body fields, refusals,
// cached tokens, and tool calls assembled from stream chunks. The payloads marked "OpenAI's
// example" are the examples of OpenAI's API reference, as published.
#include <actorflow/chat.hpp>
#include <actorflow/json_schema.hpp>

#include "providers/openai_wire.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace actorflow;
using json = nlohmann::json;

namespace {

// OpenAI's example: the request of its function-calling example (API reference, chat create).
constexpr const char* weather_request = R"({
  "model": "gpt-4o",
  "messages": [
    {"role": "user", "content": "What's the weather like in Boston today?"}
  ],
  "tools": [
    {
      "type": "function",
      "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
          "type": "object",
          "properties": {
            "location": {
              "type": "string",
              "description": "The city and state, e.g. San Francisco, CA"
            },
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
          },
          "required": ["location"]
        }
      }
    }
  ],
  "tool_choice": "auto"
})";

// OpenAI's example: its response.
constexpr const char* weather_response = R"({
  "id": "chatcmpl-abc123",
  "object": "chat.completion",
  "created": 1699896916,
  "model": "gpt-4o-mini",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": null,
        "tool_calls": [
          {
            "id": "call_abc123",
            "type": "function",
            "function": {
              "name": "get_current_weather",
              "arguments": "{\n\"location\": \"Boston, MA\"\n}"
            }
          }
        ]
      },
      "logprobs": null,
      "finish_reason": "tool_calls"
    }
  ],
  "usage": {
    "prompt_tokens": 82,
    "completion_tokens": 17,
    "total_tokens": 99,
    "completion_tokens_details": {
      "reasoning_tokens": 0,
      "accepted_prediction_tokens": 0,
      "rejected_prediction_tokens": 0
    }
  }
})";

// OpenAI's example: the structured-outputs guide's math tutor request.
constexpr const char* math_request = R"({
  "model": "gpt-4o-2024-08-06",
  "messages": [
    {"role": "system", "content": "You are a helpful math tutor. Guide the user through the solution step by step."},
    {"role": "user", "content": "how can I solve 8x + 7 = -23"}
  ],
  "response_format": {
    "type": "json_schema",
    "json_schema": {
      "name": "math_reasoning",
      "schema": {
        "type": "object",
        "properties": {
          "steps": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "explanation": {"type": "string"},
                "output": {"type": "string"}
              },
              "required": ["explanation", "output"],
              "additionalProperties": false
            }
          },
          "final_answer": {"type": "string"}
        },
        "required": ["steps", "final_answer"],
        "additionalProperties": false
      },
      "strict": true
    }
  }
})";

} // namespace

TEST_CASE("OpenAI's function-calling example request decodes, and encodes back to the same JSON") {
  auto call = wire::decode_chat_request(weather_request);
  REQUIRE_MESSAGE(call.ok(), call.error().to_string());
  const auto& r = call->request;
  REQUIRE(r.tools.size() == 1);
  CHECK(r.tools[0].name == "get_current_weather");
  CHECK(r.tools[0].description == "Get the current weather in a given location");
  CHECK(r.tools[0].parameters.at("required") == Value::array({"location"}));
  REQUIRE(r.tool_choice);
  CHECK(r.tool_choice->mode == ToolChoice::Mode::automatic);
  CHECK(json::parse(wire::encode_chat_request(r, "unused", false)) == json::parse(weather_request));
}

TEST_CASE("OpenAI's function-calling example response gives the tool call and the usage") {
  auto r = wire::decode_chat_response(weather_response);
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  CHECK(r->text.empty());
  CHECK(r->finish_reason == "tool_calls");
  REQUIRE(r->tool_calls.size() == 1);
  CHECK(r->tool_calls[0] ==
        ToolCall{"call_abc123", "get_current_weather", "{\n\"location\": \"Boston, MA\"\n}"});
  CHECK(r->usage == Usage{82, 17, 99, 0});
  CHECK_FALSE(r->refusal);
  // The next turn sends that call back with its result.
  ChatRequest next;
  next.messages = {ChatMessage::user("What's the weather like in Boston today?"), r->message(),
                   ChatMessage::tool_result("call_abc123", "get_current_weather", "22 C")};
  auto body = json::parse(wire::encode_chat_request(next, "gpt-4o", false));
  CHECK(body["messages"][1]["content"].is_null());
  CHECK(body["messages"][1]["tool_calls"][0]["function"]["name"] == "get_current_weather");
  CHECK(body["messages"][1]["tool_calls"][0]["type"] == "function");
  CHECK(body["messages"][2] == json{{"role", "tool"},
                                    {"content", "22 C"},
                                    {"tool_call_id", "call_abc123"},
                                    {"name", "get_current_weather"}});
  auto back = wire::decode_chat_request(body.dump());
  REQUIRE(back.ok());
  CHECK(back->request.messages == next.messages);
}

TEST_CASE("OpenAI's structured-outputs example request round-trips, and its schema compiles") {
  auto call = wire::decode_chat_request(math_request);
  REQUIRE_MESSAGE(call.ok(), call.error().to_string());
  const auto& format = call->request.response_format;
  REQUIRE(format);
  CHECK(format->type == ResponseFormat::Type::json_schema);
  CHECK(format->name == "math_reasoning");
  CHECK(format->strict);
  auto schema = JsonSchema::compile(format->schema);
  REQUIRE(schema.ok());
  CHECK(schema->accepts(*from_json(
      R"({"steps":[{"explanation":"subtract 7","output":"8x = -30"}],"final_answer":"x = -3.75"})")));
  CHECK(json::parse(wire::encode_chat_request(call->request, "unused", false)) ==
        json::parse(math_request));
}

TEST_CASE("every other request field goes out and comes back") {
  ChatRequest r;
  ChatMessage look{"user"};
  look.parts = {ContentPart::of_text("What is in this image?"),
                ContentPart::image("https://example.com/cat.png", "low")};
  r.messages = {look};
  r.top_p = 0.9;
  r.seed = 42;
  r.parallel_tool_calls = false;
  r.tool_choice = ToolChoice::named("lookup");
  ToolSpec lookup{"lookup", "", Value::object({{"type", "object"}}), true};
  r.tools = {lookup};
  r.response_format = ResponseFormat::json_object();
  r.extra = Value::object({{"guided_json", Value::object({{"type", "object"}})}, {"top_k", 5}});
  auto body = json::parse(wire::encode_chat_request(r, "m", false));
  CHECK(body["messages"][0]["content"][1] ==
        json{{"type", "image_url"},
             {"image_url", {{"url", "https://example.com/cat.png"}, {"detail", "low"}}}});
  CHECK(body["tool_choice"] == json{{"type", "function"}, {"function", {{"name", "lookup"}}}});
  CHECK(body["tools"][0]["function"]["strict"] == true);
  CHECK(body["parallel_tool_calls"] == false);
  CHECK(body["response_format"] == json{{"type", "json_object"}});
  CHECK(body["top_k"] == 5);
  auto back = wire::decode_chat_request(body.dump());
  REQUIRE_MESSAGE(back.ok(), back.error().to_string());
  CHECK(back->request.messages == r.messages);
  CHECK(back->request.top_p == 0.9);
  CHECK(back->request.seed == 42);
  CHECK(back->request.parallel_tool_calls == false);
  CHECK(back->request.tool_choice == r.tool_choice);
  CHECK(back->request.tools == r.tools);
  CHECK(back->request.response_format == r.response_format);
  CHECK(back->request.extra == r.extra);
  for (auto [choice, text] :
       {std::pair{ToolChoice::none(), "none"}, std::pair{ToolChoice::required(), "required"},
        std::pair{ToolChoice::automatic(), "auto"}}) {
    r.tool_choice = choice;
    CHECK(json::parse(wire::encode_chat_request(r, "m", false))["tool_choice"] == text);
  }
}

TEST_CASE("a bad tool, tool choice, message or response format names the field") {
  auto error_of = [](const char* body) { return wire::decode_chat_request(body).error().message; };
  CHECK(error_of(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"code"}]})") ==
        "tools[0].type: expected \"function\"");
  CHECK(error_of(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"})")
            .starts_with("tool_choice: expected"));
  CHECK(error_of(R"({"messages":[{"role":"tool","content":"x"}]})") ==
        "messages[0].tool_call_id: missing on a tool message");
  CHECK(error_of(R"({"messages":[{"role":"assistant","tool_calls":[{"function":{}}]}]})") ==
        "messages[0].tool_calls[0].function.name: missing");
  CHECK(error_of(R"({"messages":[{"role":"user","content":"x"}],
                     "response_format":{"type":"json_schema","json_schema":{"name":"x"}}})") ==
        "response_format.json_schema.schema: expected a JSON Schema object");
  CHECK(error_of(R"({"messages":[{"role":"user","content":[{"type":"audio"}]}]})")
            .starts_with("messages[0].content[0].type: expected"));
}

TEST_CASE("a response with a refusal, several tool calls and cached tokens round-trips") {
  ChatResponse r;
  r.refusal = "I can't help with that.";
  r.tool_calls = {{"call_1", "a", R"({"x":1})"}, {"call_2", "b", "{}"}};
  r.finish_reason = "tool_calls";
  r.usage = Usage{100, 20, 120, 64};
  auto body = wire::encode_chat_response(r, "chatcmpl-1", 0);
  CHECK(json::parse(body)["usage"]["prompt_tokens_details"]["cached_tokens"] == 64);
  auto back = wire::decode_chat_response(body);
  REQUIRE(back.ok());
  CHECK(back->refusal == r.refusal);
  CHECK(back->tool_calls == r.tool_calls);
  CHECK(back->usage == r.usage);
  auto bad = wire::decode_chat_response(
      R"({"choices":[{"message":{"content":null,"tool_calls":[{"id":"c","function":"f"}]}}]})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::bad_response);
  CHECK(bad.error().message == "choices[0].message.tool_calls[0].function: expected an object");
}

TEST_CASE("a stream's tool-call pieces are assembled by index, with the text alongside") {
  ToolCall first{"call_1", "add", ""};
  ToolCall first_args{"", "", R"({"a": 2,)"};
  ToolCall first_rest{"", "", R"( "b": 3})"};
  ToolCall second{"call_2", "echo", R"({"text":"hi"})"};
  std::string stream;
  stream += wire::encode_chat_chunk("c", 0, "m", {.text = "Let me add."}, std::nullopt, {});
  stream += wire::encode_chat_chunk("c", 0, "m", {.tool_call = &first, .tool_index = 0}, {}, {});
  stream += wire::encode_chat_chunk("c", 0, "m", {.tool_call = &second, .tool_index = 1}, {}, {});
  stream += wire::encode_chat_chunk("c", 0, "m", {.tool_call = &first_args}, {}, {});
  stream += wire::encode_chat_chunk("c", 0, "m", {.tool_call = &first_rest}, {}, {});
  stream += wire::encode_chat_chunk("c", 0, "m", {}, "tool_calls", Usage{9, 4, 13, 0});
  stream += wire::sse_done();
  // Fed in awkward slices, as the network delivers them.
  wire::ChatStreamDecoder decoder;
  std::string pieces;
  for (std::size_t at = 0; at < stream.size(); at += 7)
    REQUIRE(
        decoder
            .feed(std::string_view(stream).substr(at, 7), [&](std::string_view p) { pieces += p; })
            .ok());
  auto r = decoder.finish();
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  CHECK(pieces == "Let me add.");
  CHECK(r->text == "Let me add.");
  CHECK(r->finish_reason == "tool_calls");
  REQUIRE(r->tool_calls.size() == 2);
  CHECK(r->tool_calls[0] == ToolCall{"call_1", "add", R"({"a": 2, "b": 3})"});
  CHECK(r->tool_calls[1] == second);
  CHECK(r->usage.total_tokens == 13);
}

TEST_CASE("a stream whose tool call never names its function is bad_response") {
  ToolCall nameless{"", "", "{}"};
  std::string stream =
      wire::encode_chat_chunk("c", 0, "m", {.tool_call = &nameless}, "tool_calls", {});
  stream += wire::sse_done();
  wire::ChatStreamDecoder decoder;
  REQUIRE(decoder.feed(stream, [](std::string_view) {}).ok());
  auto r = decoder.finish();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_response);
  CHECK(r.error().message == "stream: tool call 0: has no name");
}

TEST_CASE("a transcript survives the trip through Values") {
  ChatMessage look{"user"};
  look.parts = {ContentPart::of_text("see"), ContentPart::image("data:image/png;base64,AAAA")};
  std::vector<ChatMessage> transcript{ChatMessage::system("be brief"), look,
                                      ChatMessage::assistant("", {{"call_1", "add", R"({"a":1})"}}),
                                      ChatMessage::tool_result("call_1", "add", "2"),
                                      ChatMessage::assistant("2")};
  auto back = messages_from_value(to_value(transcript));
  REQUIRE(back.ok());
  CHECK(*back == transcript);
  auto bad = messages_from_value(Value::array({Value::object({{"role", 3}})}));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "$[0].role: expected a string");
}
