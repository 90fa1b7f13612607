// The resource controller against a real `actorflow sim` enforcing the same limits on
// loopback: a parallel batch paced by the runtime draws zero 429s from the server, on
// requests per minute and on tokens per minute.
#include <actorflow/actorflow.hpp>
#include <actorflow/openai.hpp>
#include <actorflow/tokens.hpp>

#include "support/sim_process.hpp"

#include <doctest/doctest.h>

using namespace actorflow;
using namespace actorflow::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t answer_tokens = 8;

/// One chat call per item; the run fails nothing (failures are counted in "failed").
class ChatEach : public ParallelBatchNode {
public:
  ChatEach() : ParallelBatchNode(BatchOptions{.max_concurrency = 256}) {}
  Value prep(const State& s) override { return s.at("prompts"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto request = ChatRequest::user(prompt.as_string());
    request.max_tokens = answer_tokens;
    auto reply = co_await ctx.llm("openai").chat(std::move(request));
    co_return reply.value().text;
  }
  std::string post_batch(State& s, const Value&, BatchResult result) override {
    s = s.with("failed", static_cast<std::int64_t>(result.summary.failed));
    return std::string(default_action);
  }
};

Array prompts(std::size_t n) {
  Array out;
  for (std::size_t i = 0; i < n; ++i)
    out.emplace_back("Say something about item " + std::to_string(i) + ".");
  return out;
}

/// Runs `items` through the sim with `limits` on both sides; checks that nothing failed and
/// the server turned nothing away.
void run_at_the_limit(const std::vector<std::string>& sim_args, Limits limits, std::size_t items) {
  SimProcess sim(sim_args);
  OpenAiConfig openai;
  openai.base_url = sim.base_url();
  openai.model = "local";
  openai.timeout = 30s;
  RuntimeConfig config;
  config.worker_threads = 2;
  config.models.add("openai", make_openai_provider(openai));
  config.limits["openai"] = limits;
  Runtime runtime{std::move(config)};
  auto flow = FlowBuilder("batch").node<ChatEach>("chat").build();
  REQUIRE(flow.ok());
  auto run = runtime.run(*flow, State{}.with("prompts", prompts(items)));
  REQUIRE(run.wait_for(120s));
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("failed").as_int() == 0);
  CHECK(result->usage.calls == items);
  CHECK(result->usage.rate_limited == 0);
  auto stats = sim.stats();
  CHECK(stats["rejected"].get<std::uint64_t>() == 0);
  CHECK(stats["chat"].get<std::uint64_t>() == items);
  auto key = runtime.limit_stats();
  REQUIRE(key.size() == 1);
  CHECK(key[0].granted == items);
  CHECK(key[0].rate_limited == 0);
}

} // namespace

TEST_CASE("600 items at the server's limit of 6000 requests per minute draw zero 429s") {
  run_at_the_limit({"--rpm", "6000", "--latency-ms", "10"}, Limits{.requests_per_minute = 6000},
                   600);
}

TEST_CASE("items at the server's tokens-per-minute limit draw zero 429s") {
  // A limit that the 300 calls need about 2 s for, on the estimate both sides make.
  std::uint64_t reserved = 0;
  for (const auto& p : prompts(300))
    reserved +=
        estimate_prompt_tokens(ChatRequest::user(p.as_string()), default_token_estimator()) +
        answer_tokens;
  auto tpm = reserved * 30;
  run_at_the_limit({"--tpm", std::to_string(tpm), "--latency-ms", "10"},
                   Limits{.tokens_per_minute = tpm}, 300);
}
