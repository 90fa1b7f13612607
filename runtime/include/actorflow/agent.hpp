#pragma once
/// The agent node: model turn, then the turn's tool calls (all at once, each in its own actor),
/// their results appended, then the next turn; until the model answers without tool calls,
/// `max_turns` turns have run, or the token budget is spent. Its parts are public too
/// (`ctx.llm().chat` with `tools`, `run_tool_calls`), so the same loop can be written by hand
/// as a flow with a cycle, decide -> act -> decide (examples/agent_tools.cpp shows both).

#include <actorflow/node.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/tool.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace actorflow {

struct AgentOptions {
  /// The model provider (empty: the Runtime's default) and model (empty: its default).
  std::string provider{};
  std::string model{};
  /// A system message put first, unless the transcript it continues has one.
  std::string system{};
  ToolBox tools{};
  /// Model turns at most; the agent stops after this many with stop reason "max_turns".
  std::uint32_t max_turns = 8;
  /// Tokens (as servers count them) the agent's model calls may use; once reached, no new
  /// turn starts (stop reason "budget"). 0: no budget. For a hard limit across a whole run,
  /// use `Limits::tokens_per_run`, which the resource controller enforces per call.
  std::uint64_t token_budget = 0;
  std::optional<std::uint32_t> max_tokens{}; ///< per turn
  std::optional<double> temperature{};
  std::optional<bool> parallel_tool_calls{};
  /// Sent with every turn. "required" makes every turn call tools: the agent then ends only
  /// at max_turns or the budget.
  std::optional<ToolChoice> tool_choice{};
  /// How one failed model turn is retried inside the agent (not the whole conversation):
  /// by default 3 attempts with backoff, on the errors `is_retryable` names.
  RetryPolicy turn_retry{.max_attempts = 3, .initial_backoff = Millis(200)};
  /// Streams the text of every turn as it arrives (see ChatRequest::on_token).
  std::function<void(std::string_view)> on_token{};
  /// State keys. The input is a string (one user message) or an array of messages (a
  /// transcript to continue, e.g. the output of an earlier agent).
  std::string input_key = "prompt";
  std::string answer_key = "answer";
  std::string transcript_key = "transcript";
  /// A map {stop, turns, tool_calls, tokens, refusal}: stop is "answer", "max_turns",
  /// "budget" or "refused" (the model declined; `refusal` holds its words, else null).
  /// At max_turns the last turn's tool calls have run and their results are in the
  /// transcript, with no answer after them.
  std::string report_key = "agent";
};

/// An agent node. Writes the final answer (null if the agent stopped before one), the whole
/// transcript (messages as Values: see `to_value`) and the report; returns the default
/// action. A model turn that still fails after `turn_retry` fails the node with its error;
/// a failing tool call never does (the model reads the error and goes on).
[[nodiscard]] NodeFactory agent_node(AgentOptions options);

} // namespace actorflow
