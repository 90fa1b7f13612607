// The local model's structured answers: schema instances and tool calls filled from the
// prompt, valid against their schemas, the same on every run.
#include <actorflow/json_schema.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/tokens.hpp>

#include <doctest/doctest.h>

using namespace actorflow;

namespace {

Value parse(std::string_view text) {
  auto v = from_json(text);
  REQUIRE_MESSAGE(v.ok(), v.error().to_string());
  return *v;
}

constexpr const char* invoice_text = R"({
  "type": "object",
  "properties": {
    "number": {"type": "integer"},
    "company": {"type": "string"},
    "total": {"type": "number"},
    "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
    "due": {"type": "string", "format": "date"},
    "paid": {"type": "boolean"}
  },
  "required": ["number", "company", "total", "currency", "due", "paid"],
  "additionalProperties": false
})";

Value invoice_schema() { return parse(invoice_text); }

ToolSpec tool(std::string name, std::string_view parameters) {
  return ToolSpec{std::move(name), "", parse(parameters)};
}

} // namespace

TEST_CASE("a schema is filled from what the prompt writes after each member's name") {
  auto invoice = invoice_schema();
  auto v = local_fill_schema(invoice, "Invoice number 1043. Company: Acme Corp. Total: 1,250.50 "
                                      "in USD, due 2026-01-15. Paid: yes.");
  CHECK(v.at("number") == Value(1043));
  CHECK(v.at("company") == Value("Acme Corp"));
  CHECK(v.at("total") == Value(1250.5));
  CHECK(v.at("currency") == Value("USD"));
  CHECK(v.at("due") == Value("2026-01-15"));
  CHECK(v.at("paid") == Value(true));
  CHECK(JsonSchema::compile(invoice)->accepts(v));
}

TEST_CASE("members the prompt does not name take its numbers and quoted phrases in order") {
  auto schema = parse(R"({"type":"object","properties":{
      "a": {"type": "number"}, "b": {"type": "integer", "maximum": 10},
      "label": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}})");
  auto v = local_fill_schema(schema, R"(Add 4.5 and 12 under "sums", "math".)");
  CHECK(v.at("a") == Value(4.5));
  CHECK(v.at("b") == Value(10)); // 12, held to the maximum
  CHECK(v.at("label") == Value("sums"));
  CHECK(v.at("tags") == Value::array({"math"}));
  CHECK(JsonSchema::compile(schema)->accepts(v));
}

TEST_CASE("whatever the prompt, the instance validates") {
  auto invoice = invoice_schema();
  auto compiled = JsonSchema::compile(invoice);
  REQUIRE(compiled.ok());
  for (const char* prompt : {"", "nothing useful here", "number: many; total: none", "\"q\" 1 2 3"})
    CHECK_MESSAGE(compiled->accepts(local_fill_schema(invoice, prompt)), prompt);
}

TEST_CASE("the local model calls the tools the prompt names, all in one turn") {
  auto request = ChatRequest::user(R"(Use the calculator with expression "2 * 21" and the clock.)");
  request.tools = {
      tool("calculator", R"({"type":"object","properties":{"expression":{"type":"string"}},
                                         "required":["expression"]})"),
      tool("clock", R"({"type":"object","properties":{}})"),
      tool("weather", R"({"type":"object","properties":{}})")};
  auto r = local_chat(request, default_token_estimator());
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.text.empty());
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0].name == "calculator");
  CHECK(r.tool_calls[0].arguments == R"({"expression":"2 * 21"})");
  CHECK(r.tool_calls[1].name == "clock");
  CHECK(r.tool_calls[0].id != r.tool_calls[1].id);
  CHECK(local_chat(request, default_token_estimator()).tool_calls == r.tool_calls); // stable

  request.parallel_tool_calls = false;
  CHECK(local_chat(request, default_token_estimator()).tool_calls.size() == 1);
  request.parallel_tool_calls.reset();
  request.tool_choice = ToolChoice::none();
  CHECK(local_chat(request, default_token_estimator()).tool_calls.empty());
  request.tool_choice = ToolChoice::named("weather");
  auto named = local_chat(request, default_token_estimator());
  REQUIRE(named.tool_calls.size() == 1);
  CHECK(named.tool_calls[0].name == "weather");
  auto plain = ChatRequest::user("hello there");
  plain.tools = request.tools;
  CHECK(local_chat(plain, default_token_estimator()).tool_calls.empty());
  plain.tool_choice = ToolChoice::required();
  CHECK(local_chat(plain, default_token_estimator()).tool_calls.at(0).name == "calculator");
}

TEST_CASE("after tool results the local model answers with them") {
  ChatRequest request;
  request.tools = {tool("calculator", R"({"type":"object"})")};
  request.messages = {ChatMessage::user("Use the calculator."),
                      ChatMessage::assistant("", {{"c1", "calculator", "{}"}}),
                      ChatMessage::tool_result("c1", "calculator", "42")};
  auto r = local_chat(request, default_token_estimator());
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
  CHECK(r.text == "[local model] calculator: 42");
}

TEST_CASE("a json_schema response format gets the filled instance as JSON text") {
  auto invoice = invoice_schema();
  auto request = ChatRequest::user("Invoice number 7, company: Zeta, total 3 EUR.");
  request.response_format = ResponseFormat::json_schema("invoice", invoice);
  auto r = local_chat(request, default_token_estimator());
  auto v = from_json(r.text);
  REQUIRE(v.ok());
  CHECK(v->at("number") == Value(7));
  CHECK(JsonSchema::compile(invoice)->accepts(*v));
  request.response_format = ResponseFormat::json_object();
  CHECK(from_json(local_chat(request, default_token_estimator()).text)->is_map());
}

TEST_CASE("arrays of items that take no numbers or phrases still end, and validate") {
  for (const char* items : {R"({"type": "string", "format": "email"})", R"({"const": "x"})",
                            R"({"anyOf": [{"type": "integer"}]})"}) {
    auto schema = parse(std::string(R"({"type": "array", "items": )") + items + "}");
    auto v = local_fill_schema(schema, R"(write to "a@b.org", "c@d.org" about 1 2 3)");
    CHECK_MESSAGE(JsonSchema::compile(schema)->accepts(v), items);
  }
}
