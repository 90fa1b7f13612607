#pragma once
// What runs in a node actor, its batch and its item actors: the node's factory, where it sits
// in its flow, and the retry policy the flow gives it. Immutable, and shared, so that spawning
// an item copies one pointer instead of a scope, a name and a factory.

#include <actorflow/node.hpp>
#include <actorflow/result.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/value.hpp>

#include "actors/run_scope.hpp"
#include "core/guard.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace actorflow::actors {

struct NodeSpec {
  Scope scope;
  std::string name;
  NodeFactory factory;
  std::optional<RetryPolicy> flow_policy; // the flow's policy for this node, if any
  std::string path; // scope.path + name: in every event, log line and error of the node
  // The name its type is registered under (FlowBuilder::registered_node), "" when it was
  // added by factory: only a registered node's items can run on cluster nodes.
  std::string registered_type;

  /// "node 'a/b' <step>", for error messages.
  [[nodiscard]] std::string where(const char* step) const;
  /// "node 'a/b' item 7".
  [[nodiscard]] std::string where(std::size_t item) const;
  /// "node 'a/b' item 7 <step>".
  [[nodiscard]] std::string where(std::size_t item, const char* step) const;
  /// Writes `message` to the runtime's log as "[a/b] message".
  void log(std::string_view message) const;
};
using NodeSpecPtr = std::shared_ptr<const NodeSpec>;

/// A fresh instance made by `factory`; throws Failure when it makes none.
[[nodiscard]] std::unique_ptr<Node> instance_of(const NodeFactory& factory);

/// A fresh instance of the node; an error (the factory threw, or made none) names `where`, a
/// string or a callable that makes one (only called on failure: items make an instance each).
template <class Where>
[[nodiscard]] Result<std::unique_ptr<Node>> new_instance(const NodeSpec& spec, Where&& where) {
  return detail::guarded(std::forward<Where>(where), [&] { return instance_of(spec.factory); });
}

/// The retry policy of an execution of `node`: its own, else the flow's; none without either.
[[nodiscard]] std::optional<RetryPolicy> policy_of(const Node& node, const NodeSpec& spec);

/// `node`'s exec_fallback for exec's `error` on `input`: a value, or the error to report
/// (exec's own when the fallback rethrew it, as the default one does, not a wrapped copy).
[[nodiscard]] Result<Value> fallback_of(Node& node, const Value& input, const Error& error,
                                        const std::string& where);

/// A factory of the node type registered as `type` in `env` (it throws the registry's error
/// naming the known types when there is none).
[[nodiscard]] NodeFactory registered_factory(EnvironmentPtr env, std::string type);

} // namespace actorflow::actors
