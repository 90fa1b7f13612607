// JSON Schema validation of Values (valijson underneath): violations with paths, and schemas
// that are not schemas.
#include <actorflow/json_schema.hpp>

#include <doctest/doctest.h>

using namespace actorflow;

namespace {

Value parse(std::string_view text) {
  auto v = from_json(text);
  REQUIRE_MESSAGE(v.ok(), v.error().to_string());
  return *v;
}

const char* invoice_schema = R"({
  "type": "object",
  "properties": {
    "number": {"type": "integer", "minimum": 1},
    "total": {"type": "number"},
    "currency": {"enum": ["EUR", "USD"]},
    "lines": {"type": "array", "items": {"type": "object",
              "properties": {"price": {"type": "number"}}, "required": ["price"]}}
  },
  "required": ["number", "total", "currency"],
  "additionalProperties": false
})";

} // namespace

TEST_CASE("a valid instance has no violations") {
  auto schema = JsonSchema::compile(parse(invoice_schema));
  REQUIRE(schema.ok());
  CHECK(schema->validate(parse(R"({"number": 7, "total": 12.5, "currency": "EUR"})")).empty());
  CHECK(schema->document() == parse(invoice_schema));
}

TEST_CASE("violations name the path of what is wrong, the innermost first") {
  auto schema = JsonSchema::compile(parse(invoice_schema));
  REQUIRE(schema.ok());
  auto missing = schema->validate(parse(R"({"number": 7, "total": 1})"));
  REQUIRE_FALSE(missing.empty());
  CHECK(missing[0].path == "$");
  CHECK(missing[0].message.find("currency") != std::string::npos);

  auto deep = schema->validate(
      parse(R"({"number": 7, "total": 1, "currency": "EUR", "lines": [{"price": 1}, {}]})"));
  REQUIRE_FALSE(deep.empty());
  CHECK(deep[0].path == "$.lines[1]");
  CHECK(deep[0].message.find("price") != std::string::npos);

  auto wrong_type = schema->validate(parse(R"({"number": "7", "total": 1, "currency": "EUR"})"));
  REQUIRE_FALSE(wrong_type.empty());
  CHECK(wrong_type[0].path == "$.number");

  auto extra = schema->validate(parse(R"({"number": 7, "total": 1, "currency": "EUR", "x": 1})"));
  CHECK_FALSE(extra.empty());
  CHECK_FALSE(schema->accepts(parse(R"({"number": 0, "total": 1, "currency": "EUR"})")));
  CHECK_FALSE(schema->accepts(parse(R"({"number": 1, "total": 1, "currency": "GBP"})")));
}

TEST_CASE("describe lists violations one per line, capped") {
  std::vector<SchemaViolation> v{{"$.a", "bad"}, {"$.b", "worse"}, {"$.c", "worst"}};
  CHECK(describe(v) == "$.a: bad\n$.b: worse\n$.c: worst");
  CHECK(describe(v, 2) == "$.a: bad\n$.b: worse\n(1 more)");
}

TEST_CASE("a document that is no JSON Schema is bad_input, not a crash") {
  auto not_object = JsonSchema::compile(Value::array({1}));
  REQUIRE_FALSE(not_object.ok());
  CHECK(not_object.error().code == Errc::bad_input);
  auto bad_keyword = JsonSchema::compile(parse(R"({"type": 12})"));
  REQUIRE_FALSE(bad_keyword.ok());
  CHECK(bad_keyword.error().code == Errc::bad_input);
  CHECK(bad_keyword.error().message.starts_with("JSON Schema: "));
  auto bad_ref = JsonSchema::compile(parse(R"({"$ref": "#/definitions/nowhere"})"));
  REQUIRE_FALSE(bad_ref.ok());
  CHECK(bad_ref.error().code == Errc::bad_input);
}

TEST_CASE("a pattern that is no regular expression is bad_input when compiled") {
  auto bad = JsonSchema::compile(parse(R"({"properties": {"id": {"pattern": "(unclosed"}}})"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::bad_input);
  CHECK(bad.error().message.find("$.properties.id.pattern") != std::string::npos);
  auto keys = JsonSchema::compile(parse(R"({"patternProperties": {"[a-": {}}})"));
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.error().code == Errc::bad_input);
}

TEST_CASE("a string too long to check against a pattern is a violation, not a stack overflow") {
  auto schema = JsonSchema::compile(parse(R"({"properties": {"s": {"pattern": "^(a|b)*$"}}})"));
  REQUIRE(schema.ok());
  CHECK(schema->accepts(Value::object({{"s", "abab"}})));
  CHECK_FALSE(schema->accepts(Value::object({{"s", "abc"}})));
  auto violations = schema->validate(Value::object({{"s", std::string(100'000, 'a')}}));
  REQUIRE(violations.size() == 1);
  CHECK(violations[0].path == "$.s");
  CHECK(violations[0].message.find("too long") != std::string::npos);
}
