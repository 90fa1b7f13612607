#include <actorflow/json_schema.hpp>

#include "core/value_json.hpp"

// Schema errors must reach us as exceptions: valijson's default prints and aborts.
#define VALIJSON_USE_EXCEPTIONS 1
#include <exception>
#include <optional>
#include <regex>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace actorflow {

struct JsonSchema::Compiled {
  Value document;
  bool has_patterns = false;
  nlohmann::json json; // the parsed schema keeps pointers into nothing, but keep it alongside
  valijson::Schema schema;
};

namespace {

/// Longest string checked against a `pattern`: libstdc++'s regex recurses per character, so a
/// long string from a model could overflow the stack.
constexpr std::size_t max_pattern_input = 10'000;

// Paths built by appending: GCC 12's -Wrestrict misfires on string + chains at -O3.
std::string item_path(const std::string& where, std::size_t i) {
  return std::string(where).append("[").append(std::to_string(i)).append("]");
}
std::string member_path(const std::string& where, const std::string& key) {
  return std::string(where).append(".").append(key);
}

/// Every `pattern` and `patternProperties` key of `schema` must be a valid regular expression
/// (valijson compiles them only when it first meets them, and then fails every validation).
std::optional<Error> check_patterns(const Value& schema, const std::string& where, bool& found) {
  if (schema.is_array()) {
    for (std::size_t i = 0; i < schema.as_array().size(); ++i)
      if (auto e = check_patterns(schema.as_array()[i], item_path(where, i), found))
        return e;
    return std::nullopt;
  }
  if (!schema.is_map())
    return std::nullopt;
  auto check = [&](const std::string& pattern, const std::string& at) -> std::optional<Error> {
    found = true;
    try {
      std::regex compiled(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Error{Errc::bad_input, std::string("JSON Schema: ")
                                        .append(at)
                                        .append(": '")
                                        .append(pattern)
                                        .append("' is not a valid regular expression (")
                                        .append(e.what())
                                        .append(")")};
    }
    return std::nullopt;
  };
  for (const auto& [key, member] : schema.as_map()) {
    auto at = member_path(where, key);
    if (key == "pattern" && member.is_string()) {
      if (auto e = check(member.as_string(), at))
        return e;
    } else if (key == "patternProperties" && member.is_map()) {
      for (const auto& [pattern, sub] : member.as_map()) {
        if (auto e = check(pattern, at))
          return e;
        if (auto e = check_patterns(sub, member_path(at, pattern), found))
          return e;
      }
    } else if (auto e = check_patterns(member, at, found)) {
      return e;
    }
  }
  return std::nullopt;
}

/// The path of a string (or key) of `v` too long to check against a pattern, if any.
std::optional<std::string> overlong_string(const Value& v, const std::string& where) {
  if (v.is_string())
    return v.as_string().size() > max_pattern_input ? std::optional(where) : std::nullopt;
  if (v.is_array())
    for (std::size_t i = 0; i < v.as_array().size(); ++i)
      if (auto at = overlong_string(v.as_array()[i], item_path(where, i)))
        return at;
  if (v.is_map())
    for (const auto& [key, member] : v.as_map()) {
      if (key.size() > max_pattern_input)
        return where;
      if (auto at = overlong_string(member, member_path(where, key)))
        return at;
    }
  return std::nullopt;
}

/// valijson's context ["<root>", "[items]", "[0]", "[price]"] as "$.items[0].price".
std::string path_of(const std::vector<std::string>& context) {
  std::string out = "$";
  for (const auto& step : context) {
    if (step == "<root>")
      continue;
    std::string_view name = step;
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']')
      name = name.substr(1, name.size() - 2);
    bool index = !name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos;
    if (index)
      out.append("[").append(name).append("]");
    else
      out.append(".").append(name);
  }
  return out;
}

} // namespace

Result<JsonSchema> JsonSchema::compile(const Value& schema) {
  if (!schema.is_map())
    return Error{Errc::bad_input, std::string("JSON Schema: expected an object, got ") +
                                      std::string(to_string(schema.type()))};
  auto compiled = std::make_shared<Compiled>();
  compiled->document = schema;
  compiled->json = detail::to_nlohmann(schema);
  if (auto bad = check_patterns(schema, "$", compiled->has_patterns))
    return *bad;
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(compiled->json);
    parser.populateSchema(adapter, compiled->schema);
  } catch (const std::exception& e) {
    return Error{Errc::bad_input, std::string("JSON Schema: ") + e.what()};
  }
  return JsonSchema(std::move(compiled));
}

std::vector<SchemaViolation> JsonSchema::validate(const Value& instance) const {
  if (compiled_->has_patterns)
    if (auto at = overlong_string(instance, "$"))
      return {{*at, std::string("longer than ")
                        .append(std::to_string(max_pattern_input))
                        .append(" bytes: too long to check against the schema's patterns")}};
  auto json = detail::to_nlohmann(instance);
  valijson::adapters::NlohmannJsonAdapter target(json);
  valijson::Validator validator;
  valijson::ValidationResults results;
  std::vector<SchemaViolation> out;
  try {
    if (validator.validate(compiled_->schema, target, &results))
      return out;
  } catch (const std::exception& e) {
    out.push_back({"$", std::string("cannot be validated: ") + e.what()});
    return out;
  }
  // valijson reports the outer failure after the inner ones ("failed to validate item #0"
  // after "missing property price"): the innermost, most specific, come first as reported.
  for (const auto& error : results)
    out.push_back({path_of(error.context), error.description});
  return out;
}

const Value& JsonSchema::document() const noexcept { return compiled_->document; }

std::string describe(const std::vector<SchemaViolation>& violations, std::size_t max) {
  std::string out;
  std::size_t shown = 0;
  for (const auto& v : violations) {
    if (shown == max) {
      // Appended piece by piece: GCC 12's -Wrestrict misfires on a + b + c at -O3.
      out.append("\n(").append(std::to_string(violations.size() - max)).append(" more)");
      break;
    }
    if (shown++ > 0)
      out += '\n';
    out.append(v.path).append(": ").append(v.message);
  }
  return out;
}

} // namespace actorflow
