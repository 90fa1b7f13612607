#include <actorflow/json_schema.hpp>

#include "core/value_json.hpp"

// Schema errors must reach us as exceptions: valijson's default prints and aborts.
#define VALIJSON_USE_EXCEPTIONS 1
#include <exception>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace actorflow {

struct JsonSchema::Compiled {
  Value document;
  nlohmann::json json; // the parsed schema keeps pointers into nothing, but keep it alongside
  valijson::Schema schema;
};

namespace {

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
      out += "\n(" + std::to_string(violations.size() - max) + " more)";
      break;
    }
    if (shown++ > 0)
      out += '\n';
    out += v.path + ": " + v.message;
  }
  return out;
}

} // namespace actorflow
