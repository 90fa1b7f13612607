// Tools: each call of one model turn is a one-node sub-flow of the calling node, so it runs in
// its own actor under the same supervisor as every node (retry with backoff, attempt timeout,
// fallback, circuit), and all calls of the turn run at once (Context::run_all).
#include <actorflow/flow.hpp>
#include <actorflow/json_schema.hpp>
#include <actorflow/tool.hpp>

#include <algorithm>
#include <optional>

namespace actorflow {

namespace {

/// A tool and its compiled schema: what each call's node holds.
struct CompiledTool {
  Tool tool;
  JsonSchema schema;
};

} // namespace

struct ToolBox::Entry {
  std::shared_ptr<const CompiledTool> compiled;
  Flow flow; // the one-node flow a call runs as; its node holds `compiled` (no cycle)
  [[nodiscard]] const std::string& name() const { return compiled->tool.name; }
};

namespace {

/// One call of one tool: the arguments (JSON text) come in the state under "arguments"; the
/// outcome goes out under "outcome", as {"result": value} or {"error": text}.
class ToolCallNode final : public Node {
public:
  explicit ToolCallNode(std::shared_ptr<const CompiledTool> entry) : entry_(std::move(entry)) {
    set_retry_policy(entry_->tool.retry);
  }

  Value prep(const State& state) override { return state.at("arguments"); }

  Task<Value> exec(Value input, Context& ctx) override {
    last_error_.reset(); // the node is reused across attempts: only this attempt's counts
    try {
      auto args = parse(input);
      co_return co_await entry_->tool.handler(std::move(args), ctx);
    } catch (const Failure& f) {
      // Kept as thrown: the error the supervisor passes on carries the node's context
      // ("node 'n/call' exec: ..."), which the model need not read.
      last_error_ = f.error();
      throw;
    }
  }

  /// After the last attempt: the tool's fallback, else the error for the model to read.
  Value exec_fallback(const Value& input, const Error& error) override {
    const Error& raw = last_error_ ? *last_error_ : error;
    fell_back_ = true;
    // Invalid arguments are the model's to fix: they go back to it, fallback or not.
    if (entry_->tool.fallback && raw.code != Errc::bad_input)
      return Value::object({{"result", entry_->tool.fallback(parse(input), raw)}});
    return Value::object({{"error", Value(raw.to_string())}});
  }

  std::string post(State& state, const Value&, const Value& result) override {
    // {"result": ...} or {"error": ...}: exec's own value is wrapped here, exec_fallback's
    // comes wrapped, so a tool may return anything at all.
    state = state.with("outcome", fell_back_ ? result : Value::object({{"result", result}}));
    return std::string(default_action);
  }

private:
  /// The validated arguments, or a bad_input Failure that says what is wrong with them.
  Value parse(const Value& input) const {
    const auto& text = input.as_string();
    auto args = from_json(text.empty() ? std::string_view("{}") : std::string_view(text));
    if (!args)
      throw Failure(Error{Errc::bad_input,
                          "the arguments are not valid JSON (" + args.error().message + ")"});
    auto violations = entry_->schema.validate(*args);
    if (!violations.empty())
      throw Failure(Error{Errc::bad_input,
                          "the arguments break the tool's schema: " + describe(violations, 3)});
    return std::move(*args);
  }

  std::shared_ptr<const CompiledTool> entry_;
  std::optional<Error> last_error_;
  bool fell_back_ = false;
};

std::string result_text(const Value& result) {
  return result.is_string() ? result.as_string() : to_json(result);
}

// Free functions, not coroutine lambdas: a coroutine lambda's captures die with the lambda.
Task<Value> call_sync(std::function<Value(const Value&)> fn, Value args) { co_return fn(args); }

Task<Value> call_on(Context& ctx, Executor post, std::function<Value()> work) {
  auto result = co_await ctx.on(std::move(post), std::move(work));
  if (!result)
    throw Failure(result.error());
  co_return std::move(*result);
}

} // namespace

Value object_schema(std::initializer_list<std::pair<std::string, std::string>> members) {
  Map properties;
  Array required;
  for (const auto& [name, type] : members) {
    properties.emplace(name, Value::object({{"type", Value(type)}}));
    required.emplace_back(name);
  }
  return Value::object({{"type", "object"},
                        {"properties", Value(std::move(properties))},
                        {"required", Value(std::move(required))},
                        {"additionalProperties", false}});
}

Tool make_tool(std::string name, std::string description, Value parameters,
               std::function<Value(const Value& args)> fn) {
  Tool tool{std::move(name), std::move(description), std::move(parameters)};
  tool.handler = [fn = std::move(fn)](Value args, Context&) -> Task<Value> {
    return call_sync(fn, std::move(args));
  };
  return tool;
}

Tool make_tool_on(Executor post, std::string name, std::string description, Value parameters,
                  std::function<Value(const Value& args)> fn) {
  Tool tool{std::move(name), std::move(description), std::move(parameters)};
  tool.handler = [post = std::move(post), fn = std::move(fn)](Value args,
                                                              Context& ctx) -> Task<Value> {
    // Named, then moved: GCC 12 destroys a prvalue coroutine argument twice.
    std::function<Value()> work = [fn, args = std::move(args)] { return fn(args); };
    return call_on(ctx, post, std::move(work));
  };
  return tool;
}

namespace {

bool approves(const Value& answer) {
  if (answer.is_bool())
    return answer.as_bool();
  if (answer.is_string()) {
    const auto& text = answer.as_string();
    return !text.empty() && (text.front() == 'y' || text.front() == 'Y');
  }
  if (answer.is_map())
    if (const Value* approve = answer.find("approve"); approve && approve->is_bool())
      return approve->as_bool();
  return false;
}

// A free coroutine (not a lambda with captures: GCC 12 mis-copies their closures).
Task<Value> ask_then_call(ToolHandler inner, std::string name, Value args, Context& ctx) {
  std::string text = "Allow ";
  text.append(name).append("(").append(to_json(args)).append(")?");
  auto question =
      Value::object({{"tool", name}, {"arguments", args}, {"question", std::move(text)}});
  auto answer = co_await ctx.interrupt(std::move(question));
  if (!answer)
    throw Failure(answer.error());
  if (!approves(*answer)) {
    std::string why = "the user did not allow this call (answer: ";
    why.append(to_json(*answer)).append(")");
    throw Failure(Error{Errc::bad_input, std::move(why)});
  }
  co_return co_await inner(std::move(args), ctx);
}

} // namespace

Tool with_approval(Tool tool) {
  tool.handler = [inner = std::move(tool.handler), name = tool.name](Value args,
                                                                     Context& ctx) -> Task<Value> {
    return ask_then_call(inner, name, std::move(args), ctx);
  };
  return tool;
}

ToolBox::ToolBox(std::vector<Tool> tools) { add(std::move(tools)); }

ToolBox& ToolBox::add(Tool tool) {
  auto fail = [name = tool.name](const std::string& what) {
    throw Failure(Error{Errc::bad_input, "tool '" + name + "': " + what});
  };
  if (tool.name.empty())
    fail("a tool needs a name");
  if (!tool.handler)
    fail("no handler");
  if (contains(tool.name))
    fail("a tool of that name is there already");
  auto schema = JsonSchema::compile(tool.parameters);
  if (!schema)
    fail(schema.error().message);
  auto compiled =
      std::make_shared<const CompiledTool>(CompiledTool{std::move(tool), std::move(*schema)});
  auto flow = FlowBuilder("tool:" + compiled->tool.name)
                  .node("call",
                        [compiled]() -> std::unique_ptr<Node> {
                          return std::make_unique<ToolCallNode>(compiled);
                        })
                  .build();
  if (!flow)
    fail(flow.error().message);
  // Copy on write: ToolBoxes copied before this add keep their tools.
  auto next = std::make_shared<std::vector<std::shared_ptr<const Entry>>>(*entries_);
  next->push_back(std::make_shared<const Entry>(Entry{std::move(compiled), std::move(*flow)}));
  entries_ = std::move(next);
  return *this;
}

ToolBox& ToolBox::add(std::vector<Tool> tools) {
  for (auto& tool : tools)
    add(std::move(tool));
  return *this;
}

bool ToolBox::empty() const noexcept { return entries_->empty(); }

std::size_t ToolBox::size() const noexcept { return entries_->size(); }

bool ToolBox::contains(std::string_view name) const {
  return std::any_of(entries_->begin(), entries_->end(),
                     [&](const auto& e) { return e->name() == name; });
}

std::vector<ToolSpec> ToolBox::specs() const {
  std::vector<ToolSpec> out;
  out.reserve(entries_->size());
  for (const auto& e : *entries_)
    out.push_back(e->compiled->tool.spec());
  return out;
}

Task<std::vector<ChatMessage>> run_tool_calls(Context& ctx, ToolBox tools,
                                              std::vector<ToolCall> calls) {
  std::vector<ChatMessage> out(calls.size());
  std::vector<char> failed(calls.size(), 1); // each call's, as its tool message says it
  auto& host = detail::ContextAccess::host(ctx);
  const bool report = host.streams(StreamMode::tools);
  if (report)
    for (const auto& call : calls)
      host.emit(ToolCalled{call.id, call.name, call.arguments});
  std::vector<std::pair<Flow, State>> runs;
  std::vector<std::size_t> run_of_call; // which call each run belongs to
  auto entries = tools.entries_;        // kept alive across the suspension
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto& call = calls[i];
    auto found = std::find_if(entries->begin(), entries->end(),
                              [&](const auto& e) { return e->name() == call.name; });
    if (found == entries->end()) {
      std::string known;
      for (const auto& e : *entries)
        known += (known.empty() ? "" : ", ") + e->name();
      out[i] = ChatMessage::tool_result(
          call.id, call.name, "Error: there is no tool '" + call.name + "' (tools: " + known + ")");
      continue;
    }
    runs.emplace_back((*found)->flow, State{}.with("arguments", call.arguments));
    run_of_call.push_back(i);
  }
  auto results = co_await ctx.run_all(std::move(runs));
  for (std::size_t r = 0; r < results.size(); ++r) {
    auto i = run_of_call[r];
    const auto& call = calls[i];
    const auto& result = results[r];
    std::string text;
    if (!result) // the call's flow itself failed (its last attempt timed out, its actor died)
      text = "Error: " + result.error().to_string();
    else if (const Value& outcome = result->state.at("outcome"); outcome.find("error"))
      text = "Error: " + outcome.at("error").as_string();
    else {
      text = result_text(outcome.at("result"));
      failed[i] = 0;
    }
    out[i] = ChatMessage::tool_result(call.id, call.name, std::move(text));
  }
  if (report)
    for (std::size_t i = 0; i < calls.size(); ++i)
      host.emit(ToolReturned{calls[i].id, calls[i].name, out[i].text(), failed[i] != 0});
  co_return out;
}

} // namespace actorflow
