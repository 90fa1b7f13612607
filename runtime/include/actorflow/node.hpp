#pragma once
/// `Node`: the unit of work, in PocketFlow's three steps, and the registry that makes nodes
/// by name.

#include <actorflow/context.hpp>
#include <actorflow/result.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/state.hpp>
#include <actorflow/task.hpp>
#include <actorflow/value.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// The action a node returns when it names no other: the label of a flow's plain edges.
inline constexpr std::string_view default_action = "default";

/// One step of a flow. Every execution gets a fresh instance (made by a `NodeFactory`) inside
/// its own actor, so members are private to that execution and need no locks.
///
/// Any of the four steps may throw: a `Failure` fails the node with its error, anything else
/// with `Errc::node_threw` and the exception's what(). The run fails with that error; the
/// process never does.
class Node {
public:
  virtual ~Node() = default;

  /// Reads what exec needs from the state. Default: null.
  virtual Value prep(const State& state);

  /// Does the work; may be a coroutine that `co_await`s on `ctx` (timers, sub-flows, other
  /// actors) without blocking a thread. This is the step that is retried. Default: yields
  /// `input` unchanged.
  virtual Task<Value> exec(Value input, Context& ctx);

  /// Called with exec's error when exec failed and will not be retried (retries exhausted, or
  /// an error the policy does not retry); its value replaces exec's. Default: rethrows, so the
  /// node fails. Not called when the last attempt timed out or its actor died: then the
  /// attempt's error is the outcome.
  virtual Value exec_fallback(const Value& input, const Error& error);

  /// Writes results into `state` (rebind it: `state = state.with("k", v)`) and returns the
  /// action that picks the next edge. Default: `default_action`, state unchanged.
  virtual std::string post(State& state, const Value& prep_result, const Value& exec_result);

  /// This node's own retry policy; it wins over the flow's (FlowBuilder::retry). Set it in the
  /// constructor: `MyNode() { set_retry_policy({.max_attempts = 3}); }`.
  void set_retry_policy(RetryPolicy policy) { retry_policy_ = std::move(policy); }
  [[nodiscard]] const std::optional<RetryPolicy>& retry_policy() const noexcept {
    return retry_policy_;
  }

private:
  std::optional<RetryPolicy> retry_policy_;
};

/// Makes a fresh node per execution.
using NodeFactory = std::function<std::unique_ptr<Node>()>;

/// A factory for `N` constructed from copies of `args` each time.
template <class N, class... Args>
[[nodiscard]] NodeFactory factory_of(Args... args) {
  return [args...]() -> std::unique_ptr<Node> { return std::make_unique<N>(args...); };
}

/// The parts of a node written as functions; missing parts behave like `Node`'s defaults.
/// The functions are shared by every execution (possibly on several threads at once), so they
/// must not mutate captured state; write a `Node` class for per-execution state.
struct LambdaNode {
  std::function<Value(const State&)> prep;
  std::function<Task<Value>(Value, Context&)> exec;
  std::function<std::string(State&, const Value& prep_result, const Value& exec_result)> post;
};

/// A factory for a node made of functions.
[[nodiscard]] NodeFactory lambda_node(LambdaNode parts);

/// A one-function node for small synchronous steps: reads and rewrites the state and returns
/// the action. Runs in post (after a trivial exec), in the node's own actor like any other.
[[nodiscard]] NodeFactory step_node(std::function<std::string(State&)> step);

/// Node factories by type name, so that a node can be made where only its name travels
/// (another actor, another machine). Not synchronised: fill it before giving it to a
/// `Runtime`, which keeps its own copy and only reads it.
class NodeRegistry {
public:
  /// Registers `factory` under `type_name`; a second registration of one name is an error.
  Result<void> add(std::string type_name, NodeFactory factory);
  /// Registers `N` under `type_name`, constructed from copies of `args`.
  template <class N, class... Args>
  Result<void> add(std::string type_name, Args... args) {
    return add(std::move(type_name), factory_of<N>(std::move(args)...));
  }
  /// A fresh node; an unknown name is an error naming it and the known ones.
  [[nodiscard]] Result<std::unique_ptr<Node>> make(std::string_view type_name) const;
  [[nodiscard]] bool contains(std::string_view type_name) const;
  [[nodiscard]] std::vector<std::string> names() const;

private:
  std::map<std::string, NodeFactory, std::less<>> factories_;
};

} // namespace actorflow
