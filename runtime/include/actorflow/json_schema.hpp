#pragma once
/// JSON Schema validation of Values (drafts 4 and 7, as valijson implements them), for
/// structured outputs and tool arguments. A compiled schema is immutable and cheap to copy;
/// one may validate on many threads at once.

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <memory>
#include <string>
#include <vector>

namespace actorflow {

/// Where an instance breaks its schema: `path` like "$.items[0].price" ("$" is the whole
/// instance) and what is wrong there.
struct SchemaViolation {
  std::string path;
  std::string message;
  friend bool operator==(const SchemaViolation&, const SchemaViolation&) = default;
};

class JsonSchema {
public:
  /// Compiles `schema` (a JSON Schema as a Value map). A document that is not a usable
  /// schema (a wrong keyword type, an unresolvable $ref) is bad_input naming the problem.
  [[nodiscard]] static Result<JsonSchema> compile(const Value& schema);

  /// The violations of `instance`, most specific first; empty when it is valid.
  [[nodiscard]] std::vector<SchemaViolation> validate(const Value& instance) const;
  [[nodiscard]] bool accepts(const Value& instance) const { return validate(instance).empty(); }
  /// The schema as given.
  [[nodiscard]] const Value& document() const noexcept;

private:
  struct Compiled;
  explicit JsonSchema(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}
  std::shared_ptr<const Compiled> compiled_;
};

/// The first `max` violations as lines "$.path: message", for an error text or for a model
/// asked to repair its answer.
[[nodiscard]] std::string describe(const std::vector<SchemaViolation>& violations,
                                   std::size_t max = 5);

} // namespace actorflow
