// The openai_batch provider against `actorflow sim`'s Batch API: ordinary calls of a flow's
// nodes gathered into jobs and answered line by line; lines that fail; jobs that expire, with
// their leftovers sent on (or failed); the batch discount in the run's cost; the enqueued-token
// limit. Every wait is on the run's end or a provider's answer, bounded by the test's timeouts.
#include <actorflow/actorflow.hpp>

#include "support/sim_process.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <vector>

using namespace actorflow;
using namespace actorflow::test;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

// Jobs gather for 50 ms, and are polled every few ms: a test waits tens of ms per job.
OpenAiBatchOptions quick(OpenAiBatchOptions options = {}) {
  options.max_wait = 50ms;
  options.poll_initial = 5ms;
  options.poll_max = 20ms;
  return options;
}

// One chat call per item of "prompts", through the provider named "batch".
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

Flow ask_each() {
  return must(FlowBuilder("ask").node("ask", [] { return std::make_unique<AskEach>(); }).build());
}

State prompts(std::size_t n, std::size_t failing_every = 0) {
  Array out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string prompt = "Item " + std::to_string(i) + ": the sea was calm that morning.";
    if (failing_every != 0 && i % failing_every == 0)
      prompt += " SIM_FAIL_LINE";
    out.emplace_back(std::move(prompt));
  }
  return State{}.with("prompts", std::move(out));
}

// What the online endpoint answers for the same prompt.
std::string online_answer(const SimProcess& sim, const std::string& prompt) {
  OpenAiProvider online(sim_config(sim));
  std::promise<ModelOutcome<ChatResponse>> done;
  auto request = ChatRequest::user(prompt);
  request.max_tokens = 40;
  online.chat(std::move(request), [&](ModelOutcome<ChatResponse> o) { done.set_value(o); });
  return done.get_future().get().result.value().text;
}

RunResult run_through(ModelProviderPtr provider, const State& state, PriceTable prices = {}) {
  RuntimeConfig config;
  config.models.add("batch", std::move(provider));
  config.prices = std::move(prices);
  Runtime runtime(std::move(config));
  return must(runtime.run(ask_each(), state).get());
}

} // namespace

TEST_CASE("calls of a flow's nodes go out as one job, each answered as online") {
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "30"});
  OpenAiBatchOptions gather = quick();
  gather.max_wait = 500ms; // every call of the batch is in by then, however slow the machine
  auto provider = make_openai_batch_provider(sim_config(sim), gather);
  const auto state = prompts(40);
  const RunResult result = run_through(provider, state);
  const auto& answers = result.state.at("answers").as_array();
  REQUIRE(answers.size() == 40);
  for (std::size_t i : {0U, 17U, 39U})
    CHECK(answers[i] == Value(online_answer(sim, state.at("prompts").at(i).as_string())));
  const BatchProviderStats stats = provider->stats();
  CHECK(stats.jobs_submitted == 1);
  CHECK(stats.jobs_completed == 1);
  CHECK(stats.calls_answered == 40);
  const auto seen = sim.stats().at("batch");
  CHECK(seen.at("batches_created") == 1);
  CHECK(seen.at("lines_ok") == 40);
  // Upload, create, the polls, one download: a handful, not 40 calls.
  CHECK(seen.at("requests") == stats.http_requests);
  CHECK(stats.http_requests < 20);
  CHECK(sim.stats().at("chat") == 3); // only the three online answers above
}

TEST_CASE("a line's error fails its own call; the rest of the job succeeds") {
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "10"});
  auto provider = std::make_shared<OpenAiBatchProvider>(sim_config(sim), quick());
  const RunResult result = run_through(provider, prompts(12, 4)); // items 0, 4, 8 fail
  const auto& errors = result.state.at("errors").as_array();
  for (std::size_t i = 0; i < 12; ++i) {
    INFO("item " << i);
    if (i % 4 == 0) {
      REQUIRE(errors[i].is_string());
      CHECK(contains(errors[i].as_string(), "bad_request"));
      CHECK(contains(errors[i].as_string(), "HTTP 400"));
    } else {
      CHECK(errors[i].is_null());
    }
  }
  CHECK(provider->stats().calls_failed == 3);
  CHECK(provider->stats().calls_answered == 9);
}

TEST_CASE("an expired job: its answers are used, its leftovers go online") {
  // 20 lines over 2 s, expired after 250 ms: a few answered, the rest left over.
  // Threads for the online calls' connections as well (the sim holds one per connection).
  SimProcess sim({"--threads", "48", "--batch-delay-ms", "2000", "--batch-expire-ms", "250"});
  OpenAiBatchOptions options = quick();
  options.leftovers = OpenAiBatchOptions::Leftovers::online;
  options.online = make_openai_provider(sim_config(sim));
  auto provider = std::make_shared<OpenAiBatchProvider>(sim_config(sim), options);
  Price price;
  price.input = 0.15;
  price.output = 0.6;
  RuntimeConfig config;
  config.models.add("batch", provider);
  config.prices.set("*", "local", price);
  Runtime runtime(std::move(config));
  std::mutex mutex;
  std::vector<ModelCallEvent> calls;
  RunOptions watch;
  watch.on_model_call = [&](const ModelCallEvent& call) {
    std::lock_guard lock(mutex);
    calls.push_back(call);
  };
  const RunResult result = must(runtime.run(ask_each(), prompts(20), std::move(watch)).get());
  for (const auto& error : result.state.at("errors").as_array()) {
    INFO(error.preview(300));
    CHECK(error.is_null());
  }
  // The calls sent online are priced as online calls, the rest with the batch discount.
  REQUIRE(calls.size() == 20);
  std::size_t online = 0;
  for (const ModelCallEvent& call : calls) {
    online += call.batched ? 0 : 1;
    CHECK(call.cost == doctest::Approx(price.cost(call.usage, call.batched)));
  }
  const BatchProviderStats stats = provider->stats();
  CHECK(stats.jobs_expired == 1);
  CHECK(stats.calls_answered > 0);
  CHECK(stats.calls_sent_online > 0);
  CHECK(stats.calls_answered + stats.calls_sent_online == 20);
  CHECK(online == stats.calls_sent_online);
  CHECK(sim.stats().at("chat") == stats.calls_sent_online);
  CHECK(sim.stats().at("batch").at("lines_expired") == stats.calls_sent_online);
}

TEST_CASE("an expired job's leftovers fail with timeout when told so") {
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "2000", "--batch-expire-ms", "250"});
  OpenAiBatchOptions options = quick();
  options.leftovers = OpenAiBatchOptions::Leftovers::fail;
  auto provider = std::make_shared<OpenAiBatchProvider>(sim_config(sim), options);
  const RunResult result = run_through(provider, prompts(20));
  std::size_t timed_out = 0;
  for (const auto& error : result.state.at("errors").as_array())
    timed_out += error.is_string() && contains(error.as_string(), "timeout") &&
                         contains(error.as_string(), "expired")
                     ? 1
                     : 0;
  CHECK(timed_out == provider->stats().calls_failed);
  CHECK(timed_out > 0);
  CHECK(timed_out < 20);
}

TEST_CASE("an expired job's leftovers go to a new job, which answers them") {
  // Only the first job expires (after 2 of its 8 lines); the second answers the other 6.
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "400", "--batch-expire-ms", "120",
                  "--batch-expire-jobs", "1"});
  OpenAiBatchOptions gather = quick();
  gather.max_wait = 500ms; // all 8 calls in the first job, however slow the machine
  auto provider = make_openai_batch_provider(sim_config(sim), gather);
  const RunResult result = run_through(provider, prompts(8));
  for (const auto& error : result.state.at("errors").as_array())
    CHECK(error.is_null());
  const BatchProviderStats stats = provider->stats();
  CHECK(stats.jobs_submitted == 2);
  CHECK(stats.jobs_expired == 1);
  CHECK(stats.calls_resubmitted == 6);
  CHECK(stats.calls_answered == 8);
}

TEST_CASE("batch calls cost the price less its batch discount") {
  SimProcess sim({"--threads", "48", "--batch-delay-ms", "10"});
  PriceTable prices;
  Price price;
  price.input = 0.15;
  price.output = 0.6;
  prices.set("*", "local", price);
  const auto state = prompts(10);
  auto batch = std::make_shared<OpenAiBatchProvider>(sim_config(sim), quick());
  const RunResult batched = run_through(batch, state, prices);
  const RunResult online = run_through(make_openai_provider(sim_config(sim)), state, prices);
  REQUIRE(online.usage.cost > 0);
  CHECK(batched.usage.total_tokens() == online.usage.total_tokens());
  CHECK(batched.usage.cost == doctest::Approx(online.usage.cost * 0.5));
  CHECK(batched.usage.by_model.at("batch/local").priced);
}

TEST_CASE("a server's refusal of a job fails its calls with the server's reason") {
  // Every line's reserved tokens over the sim's enqueued-token limit: the job fails at once.
  SimProcess sim({"--threads", "8", "--batch-enqueued-tokens", "10"});
  auto provider = std::make_shared<OpenAiBatchProvider>(sim_config(sim), quick());
  const RunResult result = run_through(provider, prompts(3));
  for (const auto& error : result.state.at("errors").as_array()) {
    REQUIRE(error.is_string());
    CHECK(contains(error.as_string(), "token_limit_exceeded"));
  }
  CHECK(provider->stats().jobs_failed == 1);
}

TEST_CASE("the enqueued-token limit holds calls back until earlier ones end") {
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "10"});
  auto provider = std::make_shared<OpenAiBatchProvider>(sim_config(sim), quick());
  RuntimeConfig config;
  config.models.add("batch", provider);
  const auto state = prompts(6);
  const auto one = reserved_tokens([&] {
    auto r = ChatRequest::user(state.at("prompts").at(0).as_string());
    r.max_tokens = 40;
    return r;
  }());
  config.limits["batch"] = Limits{.enqueued_tokens = one * 5 / 2}; // two calls at a time
  Runtime runtime(std::move(config));
  const RunResult result = must(runtime.run(ask_each(), state).get());
  for (const auto& error : result.state.at("errors").as_array())
    CHECK(error.is_null());
  CHECK(provider->stats().jobs_submitted >= 3); // two calls per job at most
  SUBCASE("a call larger than the limit fails at once") {
    RuntimeConfig tight;
    tight.models.add("batch", provider);
    tight.limits["batch"] = Limits{.enqueued_tokens = 5};
    Runtime small(std::move(tight));
    const RunResult refused = must(small.run(ask_each(), prompts(1)).get());
    CHECK(contains(refused.state.at("errors").at(0).as_string(), "5 enqueued tokens"));
  }
}
