// The agent node: the loop of model turns and parallel tool calls, on the public parts
// (LlmClient::chat with tools, run_tool_calls).
#include <actorflow/agent.hpp>

#include <memory>
#include <random>

namespace actorflow {

namespace {

class AgentNode final : public Node {
public:
  explicit AgentNode(std::shared_ptr<const AgentOptions> options) : options_(std::move(options)) {}

  Value prep(const State& state) override {
    const Value* input = state.find(options_->input_key);
    if (input == nullptr)
      throw Failure(Error{Errc::bad_input, "agent: no '" + options_->input_key + "' in the state"});
    return *input;
  }

  Task<Value> exec(Value input, Context& ctx) override {
    const auto& o = *options_;
    auto messages = transcript_of(input);
    std::uint64_t tokens = 0;
    std::uint32_t turns = 0;
    std::uint64_t tool_calls = 0;
    std::string stop = "max_turns";
    Value answer;
    Value refusal;
    auto llm = o.provider.empty() ? ctx.llm() : ctx.llm(o.provider);
    while (turns < o.max_turns) {
      if (o.token_budget != 0 && tokens >= o.token_budget) {
        stop = "budget";
        break;
      }
      ChatRequest request;
      request.messages = messages;
      request.model = o.model;
      request.tools = o.tools.specs();
      request.max_tokens = o.max_tokens;
      request.temperature = o.temperature;
      request.parallel_tool_calls = o.parallel_tool_calls;
      request.tool_choice = o.tool_choice;
      request.on_token = o.on_token;
      auto reply = co_await turn(llm, std::move(request), ctx);
      ++turns;
      tokens += reply.usage.total_tokens;
      messages.push_back(reply.message());
      if (reply.refusal) {
        stop = "refused";
        refusal = Value(*reply.refusal);
        break;
      }
      if (reply.tool_calls.empty()) {
        answer = Value(reply.text);
        stop = "answer";
        break;
      }
      tool_calls += reply.tool_calls.size();
      auto results = co_await run_tool_calls(ctx, o.tools, reply.tool_calls);
      for (auto& result : results)
        messages.push_back(std::move(result));
    }
    co_return Value::object({{"answer", std::move(answer)},
                             {"transcript", to_value(messages)},
                             {"report", Value::object({{"stop", Value(stop)},
                                                       {"turns", Value(turns)},
                                                       {"tool_calls", Value(tool_calls)},
                                                       {"tokens", Value(tokens)},
                                                       {"refusal", std::move(refusal)}})}});
  }

  std::string post(State& state, const Value&, const Value& result) override {
    state = state.with(options_->answer_key, result.at("answer"))
                .with(options_->transcript_key, result.at("transcript"))
                .with(options_->report_key, result.at("report"));
    return std::string(default_action);
  }

private:
  [[nodiscard]] std::vector<ChatMessage> transcript_of(const Value& input) const {
    std::vector<ChatMessage> messages;
    if (input.is_string()) {
      messages.push_back(ChatMessage::user(input.as_string()));
    } else {
      auto decoded = messages_from_value(input);
      if (!decoded)
        throw Failure(Error{Errc::bad_input, "agent: '" + options_->input_key +
                                                 "' is neither a prompt nor a transcript (" +
                                                 decoded.error().message + ")"});
      messages = std::move(*decoded);
    }
    bool has_system = !messages.empty() && messages.front().role == "system";
    if (!options_->system.empty() && !has_system)
      messages.insert(messages.begin(), ChatMessage::system(options_->system));
    return messages;
  }

  /// One model turn, retried on its own under `turn_retry`.
  Task<ChatResponse> turn(LlmClient llm, ChatRequest request, Context& ctx) {
    const auto& policy = options_->turn_retry;
    Millis previous{0};
    for (std::uint32_t attempt = 1;; ++attempt) {
      auto reply = co_await llm.chat(request);
      if (reply)
        co_return std::move(*reply);
      if (!policy.should_retry(reply.error(), attempt))
        throw Failure(reply.error());
      previous = retry_delay(policy, reply.error(), attempt, previous,
                             std::uniform_real_distribution<double>(0, 1)(random_));
      co_await ctx.sleep(previous);
    }
  }

  std::shared_ptr<const AgentOptions> options_;
  std::minstd_rand random_{std::random_device{}()};
};

} // namespace

NodeFactory agent_node(AgentOptions options) {
  auto shared = std::make_shared<const AgentOptions>(std::move(options));
  return [shared]() -> std::unique_ptr<Node> { return std::make_unique<AgentNode>(shared); };
}

} // namespace actorflow
