// The openai_batch provider against `actorflow sim`'s Batch API: ordinary calls of a flow's
// nodes gathered into jobs and answered line by line; lines that fail; jobs that expire, with
// their leftovers sent on (or failed); the batch discount in the run's cost; the enqueued-token
// limit. Every wait is on the run's end or a provider's answer, bounded by the test's timeouts.
#include <actorflow/actorflow.hpp>

#include "support/ask_each.hpp"
#include "support/forwarding_store.hpp"
#include "support/sim_process.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <signal.h>

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

Flow ask_each() { return must(ask_each_flow()); }

State prompts(std::size_t n, std::size_t failing_every = 0) {
  return ask_prompts(n, failing_every);
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

// A durable Runtime: `provider` as "batch", runs recorded in `store`.
RuntimeConfig durable(ModelProviderPtr provider, CheckpointStorePtr store) {
  RuntimeConfig config;
  config.models.add("batch", std::move(provider));
  config.checkpoints = std::move(store);
  return config;
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

TEST_CASE("a line's error fails its own call, the rest of the job succeeds") {
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
  ReportCollector collector;
  const auto finished =
      runtime.run(ask_each(), prompts(20), collector.options(std::move(watch))).get();
  const RunResult result = must(Result<RunResult>(finished));
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
  // The run's usage and its report say which calls went which way.
  CHECK(result.usage.by_model.at("batch/local").batched_calls == 20 - online);
  const std::string report = collector.report(finished).to_text();
  INFO(report);
  CHECK(contains(report, "batch/local $"));
  CHECK(contains(report, "[" + std::to_string(20 - online) + " batched, " + std::to_string(online) +
                             " online]"));
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
  // With no other job open, the file is tried three more times, then its calls fail.
  CHECK(provider->stats().jobs_failed == 4);
  CHECK(sim.stats().at("batch").at("files_uploaded") == 1);
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

TEST_CASE("a job refused for the enqueued-token limit waits for an open job to end") {
  const auto state = prompts(3);
  auto one = ChatRequest::user(state.at("prompts").at(0).as_string());
  one.max_tokens = 40;
  // Room for one call's job at a time: the second and third are refused while it runs, at
  // the create (the sim's default) or, as OpenAI does, on the next look (--batch-fail-late).
  for (bool late : {false, true}) {
    INFO("refused late: " << late);
    std::vector<std::string> args{"--threads",
                                  "8",
                                  "--batch-delay-ms",
                                  "100",
                                  "--batch-enqueued-tokens",
                                  std::to_string(reserved_tokens(one) * 3 / 2)};
    if (late)
      args.emplace_back("--batch-fail-late");
    SimProcess sim(args);
    OpenAiBatchOptions options = quick();
    options.max_requests = 1;
    auto provider = make_openai_batch_provider(sim_config(sim), options);
    const RunResult result = run_through(provider, state);
    for (const auto& error : result.state.at("errors").as_array())
      CHECK(error.is_null());
    const BatchProviderStats stats = provider->stats();
    CHECK(stats.calls_requeued >= 2);
    CHECK(stats.jobs_completed == 3);
    const auto seen = sim.stats().at("batch");
    CHECK(seen.at("lines_ok") == 3);
    CHECK(seen.at("files_uploaded") == 3); // a refused job's file makes its next job
  }
}

TEST_CASE("a failed upload is tried again, a create whose answer was lost is found, not made "
          "twice") {
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "10", "--batch-fail-uploads", "1",
                  "--batch-lose-creates", "1"});
  OpenAiBatchOptions options = quick();
  options.submit_backoff = 5ms;
  auto provider = make_openai_batch_provider(sim_config(sim), options);
  const RunResult result = run_through(provider, prompts(5));
  for (const auto& error : result.state.at("errors").as_array())
    CHECK(error.is_null());
  const BatchProviderStats stats = provider->stats();
  CHECK(stats.submit_retries == 2);
  CHECK(stats.jobs_found == 1);
  const auto seen = sim.stats().at("batch");
  CHECK(seen.at("files_uploaded") == 1);
  CHECK(seen.at("batches_created") == 1);
  CHECK(seen.at("lines") == 5);
}

TEST_CASE("a durable run resumed by a new Runtime finds its calls' job: none submitted twice") {
  TempDir dir;
  auto store = must(open_checkpoint_store((dir.path() / "runs.db").string()));
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "300"});
  OpenAiBatchOptions options = quick();
  options.max_requests = 8; // one job, as soon as every call is in
  options.max_wait = 30s;
  options.journal = store;
  const auto state = prompts(8);
  {
    auto first = make_openai_batch_provider(sim_config(sim), options);
    Runtime runtime(durable(first, store));
    auto run = runtime.run(ask_each(), state, RunOptions{.run_id = "r"});
    REQUIRE(eventually([&] { return first->stats().jobs_submitted == 1; }));
    run.cancel(); // the job goes on at the server; its calls are journaled
    CHECK(!run.get());
  }
  auto second = make_openai_batch_provider(sim_config(sim), options);
  Runtime runtime(durable(second, store));
  const RunResult result = must(runtime.resume(ask_each(), "r").get());
  for (const auto& error : result.state.at("errors").as_array())
    CHECK(error.is_null());
  CHECK(result.state.at("answers").at(3) ==
        Value(online_answer(sim, state.at("prompts").at(3).as_string())));
  const BatchProviderStats stats = second->stats();
  CHECK(stats.calls_resumed == 8);
  CHECK(stats.jobs_submitted == 0);
  const auto seen = sim.stats().at("batch");
  CHECK(seen.at("batches_created") == 1);
  CHECK(seen.at("lines") == 8);

  SUBCASE("deleting the run forgets its calls: the same run id made again submits anew") {
    CHECK(must(store->delete_runs({"r"})) == 1);
    auto third = make_openai_batch_provider(sim_config(sim), options);
    Runtime again(durable(third, store));
    const RunResult rerun = must(again.run(ask_each(), state, RunOptions{.run_id = "r"}).get());
    CHECK(rerun.state.at("answers") == result.state.at("answers"));
    CHECK(third->stats().calls_resumed == 0);
    CHECK(sim.stats().at("batch").at("batches_created") == 2);
  }
}

TEST_CASE("a durable run cancelled and resumed in the same Runtime rejoins its job") {
  TempDir dir;
  auto store = must(open_checkpoint_store((dir.path() / "runs.db").string()));
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "300"});
  OpenAiBatchOptions options = quick();
  options.max_requests = 5;
  options.max_wait = 30s;
  options.journal = store;
  auto provider = make_openai_batch_provider(sim_config(sim), options);
  Runtime runtime(durable(provider, store));
  auto run = runtime.run(ask_each(), prompts(5), RunOptions{.run_id = "again"});
  REQUIRE(eventually([&] { return provider->stats().jobs_submitted == 1; }));
  run.cancel(); // its calls stay in the job the provider polls
  CHECK(!run.get());
  // The resumed calls join the abandoned ones in that job: one line answers both.
  const RunResult result = must(runtime.resume(ask_each(), "again").get());
  for (const auto& error : result.state.at("errors").as_array())
    CHECK(error.is_null());
  const BatchProviderStats stats = provider->stats();
  CHECK(stats.calls_resumed == 5);
  CHECK(stats.jobs_submitted == 1);
  CHECK(stats.calls_answered == 10); // each line answered the abandoned call and its resumption
  CHECK(sim.stats().at("batch").at("lines") == 5);
}

namespace {

// FAKE: a journal that loses every save that carries a job id, as a process killed between a
// job's create and its journaling would.
class JournalWithoutJobIds final : public ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  Result<void> save_batch_job(const BatchJobRecord& job) override {
    if (!job.job_id.empty())
      return {};
    return inner_->save_batch_job(job);
  }
};

} // namespace

TEST_CASE("a resumed call whose job's create went unjournaled finds the job by its input file") {
  TempDir dir;
  auto store = must(open_checkpoint_store((dir.path() / "runs.db").string()));
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "300"});
  OpenAiBatchOptions options = quick();
  options.max_requests = 6; // one job, as soon as every call is in
  options.max_wait = 30s;
  const auto state = prompts(6);
  {
    OpenAiBatchOptions lossy = options;
    lossy.journal = std::make_shared<JournalWithoutJobIds>(store);
    auto first = make_openai_batch_provider(sim_config(sim), lossy);
    Runtime runtime(durable(first, store));
    auto run = runtime.run(ask_each(), state, RunOptions{.run_id = "u"});
    REQUIRE(eventually([&] { return first->stats().jobs_submitted == 1; }));
    run.cancel();
    CHECK(!run.get());
  }
  options.journal = store;
  auto second = make_openai_batch_provider(sim_config(sim), options);
  Runtime runtime(durable(second, store));
  const RunResult result = must(runtime.resume(ask_each(), "u").get());
  for (const auto& error : result.state.at("errors").as_array())
    CHECK(error.is_null());
  const BatchProviderStats stats = second->stats();
  CHECK(stats.calls_resumed == 6);
  CHECK(stats.jobs_found == 1);
  CHECK(stats.jobs_submitted == 0);
  CHECK(sim.stats().at("batch").at("batches_created") == 1);
  CHECK(sim.stats().at("batch").at("batch_lists") >= 1);
}

#ifdef BATCH_RESUME_WORKER
TEST_CASE("kill -9 after a job is submitted: the next process polls the same job, no call is "
          "submitted twice") {
  TempDir dir;
  const auto db = (dir.path() / "runs.db").string();
  SimProcess sim({"--threads", "8", "--batch-delay-ms", "1500"});
  const std::string items = "20";
  auto worker =
      must(tools::Subprocess::start({BATCH_RESUME_WORKER, sim.base_url(), db, "k", items, "run"}));
  bool submitted = false;
  while (auto line = worker.read_line(60s))
    if ((submitted = *line == "submitted"))
      break;
  REQUIRE(submitted);
  worker.signal(SIGKILL);
  REQUIRE(worker.wait_exit(30s));
  CHECK(sim.stats().at("batch").at("batches_created") == 1);

  auto resumed = must(
      tools::Subprocess::start({BATCH_RESUME_WORKER, sim.base_url(), db, "k", items, "resume"}));
  std::string result;
  while (auto line = resumed.read_line(60s))
    if (line->rfind("result ", 0) == 0)
      result = *line;
  int status = 0;
  REQUIRE(resumed.wait_exit(30s, &status));
  CHECK(status == 0);
  // Every call answered, all of them from the first process's job: none submitted again.
  CHECK(result == "result 20 0 20 0 0");
  const auto seen = sim.stats().at("batch");
  CHECK(seen.at("batches_created") == 1);
  CHECK(seen.at("files_uploaded") == 1);
  CHECK(seen.at("lines") == 20);
  CHECK(seen.at("lines_ok") == 20);
}
#endif
