#include "actors/node_spec.hpp"

namespace actorflow::actors {

std::string NodeSpec::where(const char* step) const { return "node '" + path + "' " + step; }

std::string NodeSpec::where(std::size_t item) const {
  return "node '" + path + "' item " + std::to_string(item);
}

std::string NodeSpec::where(std::size_t item, const char* step) const {
  return where(item) + " " + step;
}

void NodeSpec::log(std::string_view message) const {
  if (!scope.env->log)
    return;
  // Appended piece by piece: "literal" + std::string&& trips GCC 12's -Wrestrict at -O3.
  std::string line = "[";
  line.append(path).append("] ").append(message);
  scope.env->log(line);
}

std::unique_ptr<Node> instance_of(const NodeFactory& factory) {
  auto node = factory();
  if (!node)
    throw Failure(Error{Errc::invalid_flow, "the factory returned no node"});
  return node;
}

std::optional<RetryPolicy> policy_of(const Node& node, const NodeSpec& spec) {
  if (node.retry_policy())
    return node.retry_policy();
  return spec.flow_policy;
}

Result<Value> fallback_of(Node& node, const Value& input, const Error& error,
                          const std::string& where) {
  auto fallback = detail::guarded(where, [&] { return node.exec_fallback(input, error); });
  if (!fallback && fallback.error().code == error.code)
    return error;
  return fallback;
}

NodeFactory registered_factory(EnvironmentPtr env, std::string type) {
  return [env = std::move(env), type = std::move(type)] {
    auto made = env->nodes.make(type);
    if (!made)
      throw Failure(made.error());
    return std::move(*made);
  };
}

} // namespace actorflow::actors
