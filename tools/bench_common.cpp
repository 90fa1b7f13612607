#include "bench_common.hpp"

#include <map>
#include <utility>

namespace actorflow::tools {

ChatRequest bench_chat_request(std::size_t i, std::optional<std::uint32_t> max_tokens) {
  auto request = ChatRequest::user("Say hello to item " + std::to_string(i) + ".");
  request.max_tokens = max_tokens;
  return request;
}

ChatBatch::ChatBatch(BatchOptions options, std::size_t n, std::optional<std::uint32_t> max_tokens)
    : ParallelBatchNode(options), n_(n), max_tokens_(max_tokens) {}

ItemSource ChatBatch::items(const State&, const Value&) { return counting(n_); }

Task<Value> ChatBatch::exec(Value item, Context& ctx) {
  auto request = bench_chat_request(static_cast<std::size_t>(item.as_int()), max_tokens_);
  auto reply = co_await ctx.llm(bench_provider).chat(std::move(request));
  co_return static_cast<std::int64_t>(reply.value().usage.total_tokens);
}

std::string ChatBatch::post_batch(State& state, const Value&, BatchResult result) {
  std::int64_t tokens = 0;
  std::map<std::string, std::int64_t> failures; // by error code
  std::string first_error;
  for (const auto& item : result.items) {
    if (item.ok()) {
      tokens += item.value().as_int();
      continue;
    }
    auto error = item.error();
    ++failures[std::string(to_string(error.code))];
    if (first_error.empty())
      first_error = error.to_string();
  }
  Map by_code;
  for (const auto& [code, count] : failures)
    by_code.insert({{code, count}});
  state = state.with({{"ok", static_cast<std::int64_t>(result.summary.succeeded)},
                      {"failed", static_cast<std::int64_t>(result.summary.failed)},
                      {"failed_by_code", std::move(by_code)},
                      {"tokens", tokens},
                      {"first_error", first_error}});
  return std::string(default_action);
}

Result<BenchSim> start_bench_sim(std::size_t concurrency, std::vector<std::string> sim_args) {
  sim_args.insert(sim_args.end(), {"--threads", std::to_string(concurrency + 64)});
  auto child = SimChild::start("/proc/self/exe", std::move(sim_args));
  if (!child)
    return child.error();
  OpenAiConfig openai;
  openai.base_url = child->base_url();
  openai.model = "local";
  openai.max_connections = concurrency;
  return BenchSim{std::move(*child), std::move(openai)};
}

} // namespace actorflow::tools
