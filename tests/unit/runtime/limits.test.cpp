// Resource controllers as node code meets them, on a virtual clock: pacing under request and
// token limits over whole schedules, concurrency caps, 429 pauses, leases of killed callers,
// run budgets, fair shares between runs, and what a run and the runtime report.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>
#include <actorflow/tokens.hpp>

#include "fake_providers.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <mutex>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

/// A provider that answers at once, on the caller's thread, and records when (virtual time)
/// and what each call asked. The answer uses `completion_share` of max_tokens, so a call
/// costs less than reserved.
class InstantProvider final : public ModelProvider {
public:
  struct Call {
    std::chrono::nanoseconds at;
    std::string prompt;
    std::uint64_t reserved; ///< what the runtime estimated
    std::uint64_t used;     ///< what the answer reports
  };

  InstantProvider(std::shared_ptr<testing::VirtualClock> clock, double completion_share)
      : clock_(std::move(clock)), completion_share_(completion_share) {}

  std::string_view kind() const noexcept override { return "instant"; }
  std::string default_model() const override { return "instant-1"; }
  void chat(ChatRequest request, ChatDone done) override {
    auto prompt = estimate_prompt_tokens(request, default_token_estimator());
    auto max = request.max_tokens.value_or(0);
    ChatResponse r;
    r.text = "ok";
    r.finish_reason = "stop";
    r.usage.prompt_tokens = prompt;
    r.usage.completion_tokens =
        static_cast<std::uint64_t>(static_cast<double>(max) * completion_share_);
    r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
    if (!report_usage)
      r.usage = Usage{}; // as a server that leaves `usage` out
    {
      std::lock_guard guard(mutex_);
      calls_.push_back({clock_->elapsed(), request.prompt(), prompt + max, r.usage.total_tokens});
    }
    done(ModelOutcome<ChatResponse>(std::move(r)));
  }
  void embed(EmbedRequest, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(Error{Errc::bad_request, "instant: no embeddings"}));
  }
  bool report_usage = true; ///< false: answers carry no usage (set before the run)

  std::vector<Call> calls() {
    std::lock_guard guard(mutex_);
    return calls_;
  }

private:
  std::shared_ptr<testing::VirtualClock> clock_;
  double completion_share_;
  std::mutex mutex_;
  std::vector<Call> calls_;
};

ChatResponse answer_text(std::string text) {
  ChatResponse r;
  r.text = std::move(text);
  r.finish_reason = "stop";
  r.usage = Usage{10, 5, 15};
  return r;
}

/// One chat call per item ("prompts"), each asking for `max_tokens`; items that fail are
/// counted by error code in "errors", and the whole BatchResult's summary kept.
class ChatEach : public ParallelBatchNode {
public:
  explicit ChatEach(std::uint32_t max_tokens, std::size_t window = 64)
      : ParallelBatchNode(BatchOptions{.max_concurrency = window}), max_tokens_(max_tokens) {}
  Value prep(const State& s) override { return s.at("prompts"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto request = ChatRequest::user(prompt.as_string());
    request.max_tokens = max_tokens_;
    auto reply = co_await ctx.llm().chat(std::move(request));
    co_return reply.value().text;
  }
  std::string post_batch(State& s, const Value&, BatchResult result) override {
    Map errors;
    for (const auto& item : result.items)
      if (!item.ok()) {
        auto code = std::string(to_string(item.error().code));
        auto count = errors.count(code) != 0 ? errors[code].as_int() : 0;
        errors[code] = count + 1;
        s = s.with("last_error", item.error().message);
      }
    s = s.with("succeeded", static_cast<std::int64_t>(result.summary.succeeded))
            .with("errors", std::move(errors));
    return std::string(default_action);
  }

private:
  std::uint32_t max_tokens_;
};

Flow chat_each(std::uint32_t max_tokens, std::size_t window = 64) {
  return must(FlowBuilder("each")
                  .node("chat", [max_tokens,
                                 window] { return std::make_unique<ChatEach>(max_tokens, window); })
                  .build());
}

State prompts(std::size_t n, const std::string& prefix = "item") {
  Array out;
  for (std::size_t i = 0; i < n; ++i)
    out.emplace_back(prefix + " " + std::to_string(i) + ": say something short");
  return State{}.with("prompts", std::move(out));
}

RuntimeConfig limited(std::shared_ptr<testing::VirtualClock> clock, std::string provider,
                      ModelProviderPtr model, Limits limits) {
  RuntimeConfig config = two_workers();
  config.clock = std::move(clock);
  config.models.add(provider, std::move(model));
  config.limits[provider] = limits;
  return config;
}

/// The one key's stats (a default before its controller is made by the first call).
LimitStats key_stats(const Runtime& runtime) {
  auto stats = runtime.limit_stats();
  REQUIRE(stats.size() <= 1);
  return stats.empty() ? LimitStats{} : stats[0];
}

std::int64_t errors_of(const RunResult& r, const char* code) {
  const auto& errors = r.state.at("errors").as_map();
  auto it = errors.find(code);
  return it == errors.end() ? 0 : it->second.as_int();
}

} // namespace

TEST_CASE("a parallel batch under request and token limits: no 60 s window exceeds either") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto instant = std::make_shared<InstantProvider>(clock, 0.5);
  Limits limits{.requests_per_minute = 30, .tokens_per_minute = 900};
  Runtime runtime{limited(clock, "instant", instant, limits)};
  std::vector<ModelCallEvent> events;
  std::mutex events_mutex;
  RunOptions options;
  options.on_model_call = [&](const ModelCallEvent& e) {
    std::lock_guard guard(events_mutex);
    events.push_back(e);
  };
  auto run = runtime.run(chat_each(40), prompts(40), std::move(options));
  auto result = drive(run, *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 40);

  auto calls = instant->calls();
  REQUIRE(calls.size() == 40);
  std::uint64_t used = 0;
  for (const auto& c : calls)
    used += c.used;
  // Over the whole schedule, every window of 60 s (starting at any call) stays within both
  // limits, counting what the calls actually used.
  for (const auto& start : calls) {
    std::uint64_t requests = 0, tokens = 0;
    for (const auto& c : calls)
      if (c.at >= start.at && c.at < start.at + 60s) {
        ++requests;
        tokens += c.used;
      }
    CHECK(requests <= limits.requests_per_minute);
    CHECK(tokens <= limits.tokens_per_minute);
  }
  // Calls are spread evenly, not bunched: at least 60 s / rpm apart.
  for (std::size_t i = 1; i < calls.size(); ++i)
    CHECK(calls[i].at - calls[i - 1].at >= 2s);
  // And not slower than the binding limit needs: the tokens actually used, at 900 per minute
  // (refunds make room for the next call as soon as each answer is in), plus one call's slot.
  auto ideal = std::chrono::duration_cast<std::chrono::nanoseconds>(60s) * used / 900;
  CHECK(calls.back().at <= ideal + std::chrono::nanoseconds(60s) * calls.front().reserved / 900);

  CHECK(result->usage.calls == 40);
  CHECK(result->usage.total_tokens() == used);
  CHECK(events.size() == 40);
  CHECK(std::all_of(events.begin(), events.end(), [](const ModelCallEvent& e) {
    return e.provider == "instant" && e.model == "instant-1" && e.node == "chat" && e.item &&
           !e.error && e.usage.total_tokens > 0;
  }));
  auto stats = runtime.limit_stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].provider == "instant");
  CHECK(stats[0].granted == 40);
  CHECK(stats[0].rate_limited == 0);
  CHECK(stats[0].tokens_used == used);
  CHECK(stats[0].in_flight == 0);
  CHECK(stats[0].waiting == 0);
  CHECK(stats[0].wait_max > 60s); // the last ones waited most of the schedule
  CHECK(stats[0].wait_p50 <= stats[0].wait_p99);
}

TEST_CASE("calls in flight never exceed max_concurrent, each answer lets the next one in") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  Runtime runtime{limited(clock, "held", held, Limits{.max_concurrent = 2})};
  auto run = runtime.run(chat_each(10), prompts(5));
  for (int answered = 0; answered < 5; ++answered) {
    auto expected = std::min<std::size_t>(2, 5 - static_cast<std::size_t>(answered));
    REQUIRE(eventually([&] { return held->pending() == expected; }));
    REQUIRE(clock->wait_until_idle());
    CHECK(held->pending() == expected); // and no more came out meanwhile
    auto stats = runtime.limit_stats();
    REQUIRE(stats.size() == 1);
    CHECK(stats[0].in_flight == expected);
    CHECK(stats[0].waiting == 5 - static_cast<std::size_t>(answered) - expected);
    held->answer(answer_text("ok"));
  }
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 5);
  CHECK(result->usage.calls == 5);
  CHECK(result->usage.prompt_tokens == 50);
}

TEST_CASE("a 429 pauses the key for exactly Retry-After, for every caller") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  Runtime runtime{limited(clock, "held", held, Limits{.max_concurrent = 1})};
  auto run = runtime.run(chat_each(10), prompts(2));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(Error{Errc::rate_limited, "HTTP 429", 2500ms});
  REQUIRE(clock->wait_until_idle());
  CHECK(held->pending() == 0); // the other item waits for the pause, though a slot is free
  REQUIRE(clock->advance_to_next());
  CHECK(clock->elapsed() == 2500ms);
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(answer_text("ok"));
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 1);
  CHECK(errors_of(*result, "rate_limited") == 1);
  CHECK(result->usage.rate_limited == 1);
  CHECK(result->usage.failed_calls == 1);
  CHECK(key_stats(runtime).rate_limited == 1);
}

TEST_CASE("the lease of a cancelled caller comes back, and its waiting request is withdrawn") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  Runtime runtime{limited(clock, "held", held, Limits{.max_concurrent = 1})};
  auto holder = runtime.run(chat_each(10), prompts(1, "holder"));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  auto waiter = runtime.run(chat_each(10), prompts(1, "waiter"));
  auto quitter = runtime.run(chat_each(10), prompts(1, "quitter"));
  REQUIRE(eventually([&] { return key_stats(runtime).waiting == 2; }));
  quitter.cancel(); // waiting: its request leaves the queue
  REQUIRE(eventually([&] { return key_stats(runtime).waiting == 1; }));
  CHECK(held->pending() == 1);
  holder.cancel(); // holding: its lease comes back although its call never ends
  REQUIRE(eventually([&] { return held->pending() == 2; }));
  held->answer(answer_text("never heard")); // the cancelled holder's; wakes no one
  held->answer(answer_text("ok"));
  auto result = waiter.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 1);
  CHECK(holder.get().error().code == Errc::cancelled);
  CHECK(quitter.get().error().code == Errc::cancelled);
  REQUIRE(eventually([&] { return key_stats(runtime).in_flight == 0; }));
}

TEST_CASE("a run's token budget is shared by its items, when spent the rest fail, reported") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto instant = std::make_shared<InstantProvider>(clock, 1.0); // uses all it reserves
  auto state = prompts(6);
  auto one_call =
      estimate_prompt_tokens(ChatRequest::user(state.at("prompts").as_array()[0].as_string()),
                             default_token_estimator()) +
      100;
  Limits budget{.tokens_per_run = one_call * 7 / 2};
  Runtime runtime{limited(clock, "instant", instant, budget)};
  auto result = drive(runtime.run(chat_each(100), state), *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 3);
  CHECK(errors_of(*result, "budget_exhausted") == 3);
  CHECK(result->state.at("last_error").as_string().find("budget of") != std::string::npos);
  CHECK(result->usage.calls == 3);
  CHECK(result->usage.refused == 3);
  // Another run has a budget of its own.
  auto again = drive(runtime.run(chat_each(100), prompts(1)), *clock);
  REQUIRE_MESSAGE(again.ok(), again.error().to_string());
  CHECK(again->state.at("succeeded").as_int() == 1);
}

TEST_CASE("a run's money budget: calls priced, counted per model, and stopped when spent") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto instant = std::make_shared<InstantProvider>(clock, 0.5); // uses half of max_tokens
  auto state = prompts(6);
  const auto prompt = estimate_prompt_tokens(
      ChatRequest::user(state.at("prompts").as_array()[0].as_string()), default_token_estimator());
  Price price;
  price.input = 1.0;
  price.output = 4.0;
  const double actual = (static_cast<double>(prompt) * 1.0 + 50 * 4.0) * 1e-6;
  const double worst = static_cast<double>(prompt + 100) * 4.0 * 1e-6;
  // One call at a time: after k calls, the next needs k * actual + worst within the budget.
  Limits budget{.max_concurrent = 1, .money_per_run = 3 * actual + worst + actual / 2};
  RuntimeConfig config = limited(clock, "instant", instant, budget);
  config.prices.set("instant", "instant-1", price);
  Runtime runtime{std::move(config)};

  std::mutex mutex;
  double event_cost = 0;
  RunOptions options;
  options.on_model_call = [&](const ModelCallEvent& call) {
    std::lock_guard lock(mutex);
    event_cost += call.cost;
  };
  auto result = drive(runtime.run(chat_each(100, 1), state, std::move(options)), *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 4);
  CHECK(errors_of(*result, "budget_exhausted") == 2);
  CHECK(contains(result->state.at("last_error").as_string(), "the run's money budget of $"));
  CHECK(result->usage.cost == doctest::Approx(4 * actual));
  REQUIRE(result->usage.by_model.count("instant/instant-1") == 1);
  const ModelUsage& of = result->usage.by_model.at("instant/instant-1");
  CHECK(of.calls == 4);
  CHECK(of.priced);
  CHECK(of.cost == doctest::Approx(4 * actual));
  CHECK(of.completion_tokens == 200);
  CHECK(event_cost == doctest::Approx(4 * actual));
  CHECK(key_stats(runtime).cost == doctest::Approx(4 * actual));
}

TEST_CASE("calls of a key without a price cost nothing, and say so") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto instant = std::make_shared<InstantProvider>(clock, 1.0);
  Runtime runtime{limited(clock, "instant", instant, Limits{.money_per_run = 1e-9})};
  ReportCollector collector;
  auto result = drive(runtime.run(chat_each(10), prompts(3), collector.options()), *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 3);
  CHECK(result->usage.cost == 0);
  CHECK_FALSE(result->usage.by_model.at("instant/instant-1").priced);
  CHECK(contains(collector.report(result).to_text(),
                 "cost         $0.00 (instant/instant-1 unpriced)"));
}

TEST_CASE("a call larger than the tokens-per-minute limit fails at once, naming the limit") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto instant = std::make_shared<InstantProvider>(clock, 1.0);
  Runtime runtime{limited(clock, "instant", instant, Limits{.tokens_per_minute = 100})};
  auto result = drive(runtime.run(chat_each(500), prompts(2)), *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(errors_of(*result, "bad_request") == 2);
  CHECK(result->state.at("last_error").as_string().find("limit of 100 tokens per minute") !=
        std::string::npos);
  CHECK(instant->calls().empty());
  CHECK(clock->elapsed() == 0s);
}

namespace {

/// Run A queues six calls, then run B six, both with `weight`, on one key at 60 rpm; the
/// order in which the calls went out, as "A" and "B".
std::string grant_order_of_two_runs(double weight) {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto instant = std::make_shared<InstantProvider>(clock, 1.0);
  Runtime runtime{limited(clock, "instant", instant, Limits{.requests_per_minute = 60})};
  RunOptions first;
  first.weight = weight;
  auto a = runtime.run(chat_each(1), prompts(6, "A"), std::move(first));
  // A's first call goes at once; the other five queue before B asks.
  REQUIRE(eventually([&] { return key_stats(runtime).waiting == 5; }));
  RunOptions second;
  second.weight = weight;
  auto b = runtime.run(chat_each(1), prompts(6, "B"), std::move(second));
  REQUIRE(eventually([&] { return key_stats(runtime).waiting == 11; }));
  REQUIRE(drive(a, *clock).ok());
  REQUIRE(drive(b, *clock).ok());
  auto calls = instant->calls();
  REQUIRE(calls.size() == 12);
  std::string order;
  for (const auto& c : calls)
    order += c.prompt[0];
  return order;
}

} // namespace

TEST_CASE("runs sharing a key: arrival order without weights, fair turns with them") {
  SUBCASE("unweighted: B waits behind all of A") {
    CHECK(grant_order_of_two_runs(0.0) == "AAAAAABBBBBB");
  }
  SUBCASE("equal weights: B takes turns with A from its first call") {
    auto order = grant_order_of_two_runs(1.0);
    CHECK(order.substr(0, 8).find("BBB") == std::string::npos);
    CHECK(std::count(order.begin(), order.begin() + 7, 'B') >= 3);
    // Exactly: A's tags run 1..6, B's start where A's first grant left the virtual time
    // (2..7), and ties go to the lane made first.
    CHECK(order == "AABABABABABB");
  }
}

TEST_CASE("an attempt that times out while waiting for its grant withdraws the request") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  Runtime runtime{limited(clock, "held", held, Limits{.max_concurrent = 1})};
  auto holder = runtime.run(chat_each(10), prompts(1, "holder"));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  auto impatient =
      must(FlowBuilder("impatient")
               .node("chat", [] { return std::make_unique<ChatEach>(10); })
               .retry("chat", RetryPolicy{.max_attempts = 1, .attempt_timeout = 1000ms})
               .build());
  auto waiter = runtime.run(impatient, prompts(1, "waiter"));
  REQUIRE(eventually([&] { return key_stats(runtime).waiting == 1; }));
  auto result = drive(waiter, *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(errors_of(*result, "timeout") == 1);
  REQUIRE(eventually([&] { return key_stats(runtime).waiting == 0; }));
  CHECK(held->pending() == 1); // the holder's call alone went out
  held->answer(answer_text("ok"));
  REQUIRE(holder.get().ok());
  REQUIRE(eventually([&] { return key_stats(runtime).in_flight == 0; }));
}

TEST_CASE("429s without Retry-After from calls in flight together pause the key once, for 1 s") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  Runtime runtime{limited(clock, "held", held, Limits{.max_concurrent = 3})};
  auto run = runtime.run(chat_each(10), prompts(4));
  REQUIRE(eventually([&] { return held->pending() == 3; }));
  for (int i = 0; i < 3; ++i)
    held->answer(Error{Errc::rate_limited, "HTTP 429"}); // no Retry-After
  REQUIRE(clock->wait_until_idle());
  CHECK(held->pending() == 0);
  REQUIRE(clock->advance_to_next());
  CHECK(clock->elapsed() == 1s); // one backoff of 1 s, not 1 + 2 + 4
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(answer_text("ok"));
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(errors_of(*result, "rate_limited") == 3);
  CHECK(key_stats(runtime).rate_limited == 3);
}

TEST_CASE("an answer without usage keeps its reservation: the server said nothing, not zero") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto instant = std::make_shared<InstantProvider>(clock, 1.0);
  instant->report_usage = false;
  auto one_call =
      estimate_prompt_tokens(ChatRequest::user(prompts(1).at("prompts").as_array()[0].as_string()),
                             default_token_estimator()) +
      100;
  // One call at a time: the second is granted only once the first has settled. Had the first
  // refunded its whole reservation (0 tokens used), the second would fit.
  Limits budget{.max_concurrent = 1, .tokens_per_run = one_call * 3 / 2};
  Runtime runtime{limited(clock, "instant", instant, budget)};
  auto result = drive(runtime.run(chat_each(100), prompts(2)), *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 1);
  CHECK(errors_of(*result, "budget_exhausted") == 1);
}

TEST_CASE("a call turned away before any work costs its run's budget nothing") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto held = std::make_shared<HeldProvider>();
  auto reserved = reserved_tokens([] {
    auto r = ChatRequest::user("item 0: say something short");
    r.max_tokens = 10;
    return r;
  }());
  Limits budget{.max_concurrent = 1, .tokens_per_run = reserved * 3 / 2}; // room for one call
  Runtime runtime{limited(clock, "held", held, budget)};
  auto run = runtime.run(chat_each(10, 1), prompts(2));
  REQUIRE(eventually([&] { return held->pending() == 1; }));
  held->answer(Error{Errc::bad_input, "held: the request was refused before it went out"});
  REQUIRE(eventually([&] { return held->pending() == 1; })); // the second fits the budget
  held->answer(answer_text("ok"));
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("succeeded").as_int() == 1);
  CHECK(errors_of(*result, "budget_exhausted") == 0);
}
