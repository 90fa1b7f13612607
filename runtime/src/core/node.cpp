#include <actorflow/node.hpp>

#include <memory>
#include <utility>

namespace actorflow {

// -- Node defaults ------------------------------------------------------------------------------

Value Node::prep(const State&) { return {}; }

Task<Value> Node::exec(Value input, Context&) { co_return input; }

Value Node::exec_fallback(const Value&, const Error& error) { throw Failure(error); }

std::string Node::post(State&, const Value&, const Value&) { return std::string(default_action); }

// -- function nodes -----------------------------------------------------------------------------

namespace {

class FunctionNode final : public Node {
public:
  explicit FunctionNode(std::shared_ptr<const LambdaNode> parts) : parts_(std::move(parts)) {}

  Value prep(const State& state) override {
    return parts_->prep ? parts_->prep(state) : Node::prep(state);
  }
  Task<Value> exec(Value input, Context& ctx) override {
    return parts_->exec ? parts_->exec(std::move(input), ctx) : Node::exec(std::move(input), ctx);
  }
  std::string post(State& state, const Value& prep_result, const Value& exec_result) override {
    return parts_->post ? parts_->post(state, prep_result, exec_result)
                        : Node::post(state, prep_result, exec_result);
  }

private:
  std::shared_ptr<const LambdaNode> parts_; // shared by every execution; never mutated
};

} // namespace

NodeFactory lambda_node(LambdaNode parts) {
  auto shared = std::make_shared<const LambdaNode>(std::move(parts));
  return [shared] { return std::make_unique<FunctionNode>(shared); };
}

NodeFactory step_node(std::function<std::string(State&)> step) {
  return lambda_node({.prep = {},
                      .exec = {},
                      .post = [step = std::move(step)](State& state, const Value&, const Value&) {
                        return step(state);
                      }});
}

// -- registry -----------------------------------------------------------------------------------

Result<void> NodeRegistry::add(std::string type_name, NodeFactory factory) {
  if (type_name.empty())
    return Error{Errc::invalid_flow, "node type name is empty"};
  if (!factory)
    return Error{Errc::invalid_flow, "node type '" + type_name + "': factory is empty"};
  auto [it, added] = factories_.try_emplace(std::move(type_name), std::move(factory));
  if (!added)
    return Error{Errc::invalid_flow, "node type '" + it->first + "' is registered twice"};
  return {};
}

Result<std::unique_ptr<Node>> NodeRegistry::make(std::string_view type_name) const {
  auto it = factories_.find(type_name);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [name, factory] : factories_)
      known += (known.empty() ? "" : ", ") + name;
    return Error{Errc::invalid_flow, "no registered node type '" + std::string(type_name) +
                                         "' (known: " + (known.empty() ? "none" : known) + ")"};
  }
  auto node = it->second();
  if (!node)
    return Error{Errc::invalid_flow,
                 "factory of node type '" + std::string(type_name) + "' returned no node"};
  return node;
}

bool NodeRegistry::contains(std::string_view type_name) const {
  return factories_.find(type_name) != factories_.end();
}

std::vector<std::string> NodeRegistry::names() const {
  std::vector<std::string> result;
  for (const auto& [name, factory] : factories_)
    result.push_back(name);
  return result;
}

} // namespace actorflow
