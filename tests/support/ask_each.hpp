#pragma once
// A flow of one chat call per item of the State's "prompts", through the provider named
// "batch", gathering each item's answer (or null) into "answers" and its error text (or null)
// into "errors": what the batch provider's tests, and their worker process, run.
#include <actorflow/actorflow.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace actorflow::test {

class AskEach : public ParallelBatchNode {
public:
  AskEach() : ParallelBatchNode(BatchOptions{.max_concurrency = 1000}) {}
  Value prep(const State& s) override { return s.at("prompts"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto request = ChatRequest::user(prompt.as_string());
    request.max_tokens = 40;
    auto reply = co_await ctx.llm("batch").chat(std::move(request));
    co_return reply.value().text;
  }
  std::string post_batch(State& s, const Value&, BatchResult result) override {
    Array answers;
    Array errors;
    for (const auto& item : result.items) {
      answers.push_back(item.ok() ? item.value() : Value());
      errors.push_back(item.ok() ? Value() : Value(item.error().to_string()));
    }
    s = s.with("answers", std::move(answers)).with("errors", std::move(errors));
    return std::string(default_action);
  }
};

inline Result<Flow> ask_each_flow() {
  return FlowBuilder("ask").node("ask", [] { return std::make_unique<AskEach>(); }).build();
}

/// `n` prompts; every `failing_every`th (from 0) holds the sim's SIM_FAIL_LINE marker.
inline State ask_prompts(std::size_t n, std::size_t failing_every = 0) {
  Array out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string prompt = "Item " + std::to_string(i) + ": the sea was calm that morning.";
    if (failing_every != 0 && i % failing_every == 0)
      prompt += " SIM_FAIL_LINE";
    out.emplace_back(std::move(prompt));
  }
  return State{}.with("prompts", std::move(out));
}

} // namespace actorflow::test
