#pragma once
/// Tools: functions a model may call. A `Tool` is a name, a description, a JSON Schema for its
/// arguments and a handler coroutine. `ToolBox` holds a node's tools; `run_tool_calls` runs the
/// calls of one model turn, each in its own actor, all at once, under the tool's supervision
/// (retry policy with attempt timeout, fallback), with the arguments validated before the
/// handler runs. Whatever goes wrong with a call (JSON that does not parse, arguments that
/// break the schema, an unknown tool, a handler that fails after its retries) comes back as
/// that call's tool message, "Error: ...", for the model to read: never as a failed node.

#include <actorflow/chat.hpp>
#include <actorflow/context.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/task.hpp>
#include <actorflow/value.hpp>

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow {

class Flow;

/// A tool's work: its validated arguments in, its result out. Runs inside the call's own
/// actor, like a node's exec: it may co_await anything a Context offers (model calls, timers,
/// sub-flows, `ctx.on` for the host's thread). A thrown `Failure` fails the call with its
/// error; other exceptions with node_threw.
using ToolHandler = std::function<Task<Value>(Value args, Context& ctx)>;

/// Where a host runs work: called once per job with the job, on any thread; it must run the
/// job exactly once, on whatever thread or event loop the host wants (the host's UI thread,
/// its asio io_context, ...).
using Executor = std::function<void(std::function<void()> job)>;

struct Tool {
  std::string name{};
  std::string description{};
  /// The arguments' JSON Schema; by default an object with no members.
  Value parameters = Value::object({{"type", "object"}, {"properties", Value(Map{})}});
  ToolHandler handler{};
  /// How calls of this tool are retried and timed (attempt_timeout); default: once.
  RetryPolicy retry{};
  /// The result after the last attempt failed (not after invalid arguments: those go back to
  /// the model). Unset: the error goes back to the model.
  std::function<Value(const Value& args, const Error& error)> fallback{};
  /// Ask the server to hold the model to the schema exactly (OpenAI's strict mode).
  bool strict = false;

  /// What the model is offered.
  [[nodiscard]] ToolSpec spec() const { return {name, description, parameters, strict}; }
};

/// {"type":"object","properties":{name: {"type": type}...},"required":[every name],
/// "additionalProperties":false}: the schema of most tools in one line, e.g.
/// `object_schema({{"a", "number"}, {"b", "number"}})`.
[[nodiscard]] Value
object_schema(std::initializer_list<std::pair<std::string, std::string>> members);

/// A host function as a tool, in one line. `fn` runs in the call's actor, on a runtime
/// thread: keep it quick, thread-safe, and free of blocking I/O.
[[nodiscard]] Tool make_tool(std::string name, std::string description, Value parameters,
                             std::function<Value(const Value& args)> fn);

/// A host function that must run on the host's own thread or event loop: `post` hands it
/// over (see Executor); the call's actor waits for it without holding a thread.
[[nodiscard]] Tool make_tool_on(Executor post, std::string name, std::string description,
                                Value parameters, std::function<Value(const Value& args)> fn);

/// `tool`, asking the person behind the host before every call (`ctx.interrupt`, see
/// actorflow/interrupt.hpp) with {"tool", "arguments", "question"}. The call runs when the
/// answer is true, a string beginning with "y", or {"approve": true}; any other answer goes
/// back to the model as the call's error, quoting it. For tools that change something.
[[nodiscard]] Tool with_approval(Tool tool);

/// The tools a node offers, by name. Immutable once built and shared between the node's
/// executions (copies share it). Schemas are compiled when a tool is added: a schema that is
/// no JSON Schema, a repeated name or a tool without a handler throws `Failure` (bad_input).
class ToolBox {
public:
  ToolBox() = default;
  ToolBox(std::vector<Tool> tools);

  ToolBox& add(Tool tool);
  ToolBox& add(std::vector<Tool> tools);

  [[nodiscard]] bool empty() const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] bool contains(std::string_view name) const;
  /// What a ChatRequest offers the model, in the order the tools were added.
  [[nodiscard]] std::vector<ToolSpec> specs() const;

  struct Entry;

private:
  friend Task<std::vector<ChatMessage>> run_tool_calls(Context& ctx, ToolBox tools,
                                                       std::vector<ToolCall> calls);
  std::shared_ptr<std::vector<std::shared_ptr<const Entry>>> entries_ =
      std::make_shared<std::vector<std::shared_ptr<const Entry>>>();
};

/// Runs `calls` (one model turn's) all at once, each as a one-node sub-flow in its own actor
/// under its tool's RetryPolicy, and yields one "tool" message per call, in the calls' order:
/// the result as JSON text (a string result as is), or "Error: ..." naming what went wrong.
/// Takes its arguments by value: the Task may outlive the caller's variables.
[[nodiscard]] Task<std::vector<ChatMessage>> run_tool_calls(Context& ctx, ToolBox tools,
                                                            std::vector<ToolCall> calls);

} // namespace actorflow
