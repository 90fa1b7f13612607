// Model routes on the virtual clock: retries within a target, moves to the next on what the
// target cannot cure (5xx after its retries, context length, content policy, a long 429),
// no move on our own mistakes, cooldowns shared across calls and their end, and how each move
// is reported.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <mutex>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

/// A fake provider that answers at once from a script of outcomes (then "ok from NAME"),
/// and counts its calls and the models they asked for.
class FakeScriptedProvider final : public ModelProvider {
public:
  explicit FakeScriptedProvider(std::string name, std::deque<Error> script = {})
      : name_(std::move(name)), script_(std::move(script)) {}
  std::string_view kind() const noexcept override { return "scripted"; }
  std::string default_model() const override { return name_ + "-default"; }
  void chat(ChatRequest request, ChatDone done) override {
    std::optional<Error> failure;
    {
      std::lock_guard lock(mutex_);
      models_.push_back(request.model);
      if (!script_.empty()) {
        failure = script_.front();
        script_.pop_front();
      }
    }
    if (failure)
      return done(ModelOutcome<ChatResponse>(*failure));
    ChatResponse answer;
    answer.text = "ok from " + name_;
    answer.usage = Usage{5, 2, 7};
    done(ModelOutcome<ChatResponse>(std::move(answer)));
  }
  void embed(EmbedRequest, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(Error{Errc::bad_request, "scripted: no embeddings"}));
  }
  std::vector<std::string> models() {
    std::lock_guard lock(mutex_);
    return models_;
  }

private:
  std::string name_;
  std::mutex mutex_;
  std::deque<Error> script_;
  std::vector<std::string> models_;
};

/// For each entry of "waits" (milliseconds): sleeps that long, then asks model "gpt" through
/// provider "primary"; "answers" holds each answer's text or error.
class AskInTurn : public Node {
public:
  Value prep(const State& s) override { return s.at("waits"); }
  Task<Value> exec(Value waits, Context& ctx) override {
    Array answers;
    for (const Value& wait : waits.as_array()) {
      co_await ctx.sleep(std::chrono::milliseconds(wait.as_int()));
      ChatRequest request = ChatRequest::user("hello");
      request.model = "gpt";
      auto reply = co_await ctx.llm("primary").chat(std::move(request));
      answers.push_back(reply ? Value(reply->text) : Value(reply.error().to_string()));
    }
    co_return answers;
  }
  std::string post(State& s, const Value&, const Value& answers) override {
    s = s.with("answers", answers);
    return std::string(default_action);
  }
};

struct Fixture {
  std::shared_ptr<testing::VirtualClock> clock = std::make_shared<testing::VirtualClock>();
  std::shared_ptr<FakeScriptedProvider> primary, backup;
  std::mutex mutex;
  std::vector<AttemptEvent> moves;

  Fixture(std::deque<Error> primary_script, ModelRoute route = {})
      : primary(std::make_shared<FakeScriptedProvider>("primary", std::move(primary_script))),
        backup(std::make_shared<FakeScriptedProvider>("backup")), route_(std::move(route)) {
    if (route_.targets.empty())
      route_.targets = {{"primary", "gpt"}, {"backup", ""}};
  }

  RunResult run(std::vector<std::int64_t> waits) {
    RuntimeConfig config = two_workers();
    config.clock = clock;
    config.models.add("primary", primary).add("backup", backup).route("gpt", route_);
    Runtime runtime{std::move(config)};
    RunOptions options;
    options.on_attempt = [this](const AttemptEvent& event) {
      std::lock_guard lock(mutex);
      if (event.kind == AttemptEvent::Kind::model_fallback)
        moves.push_back(event);
    };
    Array plan(waits.begin(), waits.end());
    auto flow = must(FlowBuilder("ask").node<AskInTurn>("ask").build());
    return must(drive(runtime.run(flow, State{}.with("waits", plan), std::move(options)), *clock));
  }

private:
  ModelRoute route_;
};

Error server_error() { return Error{Errc::server_error, "scripted: HTTP 500"}; }

Error rate_limited(std::chrono::milliseconds retry_after) {
  return Error{Errc::rate_limited, "scripted: HTTP 429", retry_after};
}

} // namespace

TEST_CASE("a 5xx is retried on its model, then the call moves to the next one") {
  Fixture f({server_error(), server_error()}, ModelRoute{.retry_backoff = 100ms});
  const RunResult result = f.run({0});
  CHECK(result.state.at("answers") == Value(Array{"ok from backup"}));
  CHECK(f.primary->models() == std::vector<std::string>{"gpt", "gpt"}); // 1 retry
  CHECK(f.backup->models() == std::vector<std::string>{"backup-default"});
  CHECK(f.clock->elapsed() == 100ms); // the retry's backoff
  CHECK(result.usage.fallbacks == 1);
  REQUIRE(f.moves.size() == 1);
  CHECK(f.moves[0].from == "primary/gpt");
  CHECK(f.moves[0].to == "backup/backup-default");
  CHECK(f.moves[0].error.code == Errc::server_error);
  CHECK(f.moves[0].node == "ask");
  CHECK(result.usage.by_model.count("backup/backup-default") == 1);
}

TEST_CASE("what the model cannot cure moves on at once, our own mistakes do not move") {
  SUBCASE("context length exceeded") {
    Fixture f({Error{Errc::bad_request, "HTTP 400: This model's maximum context length is 8192 "
                                        "tokens (context_length_exceeded)"}});
    CHECK(f.run({0}).state.at("answers") == Value(Array{"ok from backup"}));
    CHECK(f.primary->models().size() == 1);
  }
  SUBCASE("a content policy refusal") {
    Fixture f({Error{Errc::bad_request, "HTTP 400: content_policy_violation"}});
    CHECK(f.run({0}).state.at("answers") == Value(Array{"ok from backup"}));
  }
  SUBCASE("a bad request of ours") {
    Fixture f({Error{Errc::bad_request, "HTTP 400: 'messages' must not be empty"}});
    const RunResult result = f.run({0});
    CHECK(contains(result.state.at("answers").at(0).as_string(), "must not be empty"));
    CHECK(f.backup->models().empty());
    CHECK(result.usage.fallbacks == 0);
    CHECK(f.moves.empty());
  }
}

TEST_CASE("a 429 within the wait budget is waited out, a longer one moves on") {
  SUBCASE("within") {
    Fixture f({rate_limited(2s)});
    CHECK(f.run({0}).state.at("answers") == Value(Array{"ok from primary"}));
    CHECK(f.clock->elapsed() == 2s);
    CHECK(f.backup->models().empty());
  }
  SUBCASE("beyond") {
    Fixture f({rate_limited(60s)});
    CHECK(f.run({0}).state.at("answers") == Value(Array{"ok from backup"}));
    CHECK(f.clock->elapsed() == 0s);
  }
}

TEST_CASE("a target failing calls in a row cools down for every call, until its time is up") {
  // Targets without a model: their health is kept under the provider's default model.
  ModelRoute route{.targets = {{"primary", ""}, {"backup", ""}},
                   .retries = 0,
                   .cooldown_after = 2,
                   .cooldown = 60s};
  Fixture f({server_error(), server_error(), server_error()}, route);
  // Calls 1 and 2 fail over (the second cools "primary" down); call 3 goes straight to the
  // backup; call 4, 61 s later, tries the primary again (and fails over once more).
  const RunResult result = f.run({0, 0, 0, 61'000});
  CHECK(result.state.at("answers") ==
        Value(Array{"ok from backup", "ok from backup", "ok from backup", "ok from backup"}));
  CHECK(f.primary->models() == std::vector<std::string>(3, "primary-default"));
  CHECK(f.backup->models().size() == 4);
  CHECK(result.usage.fallbacks == 3);
}

TEST_CASE("every target failing: the call fails with the last target's error") {
  auto failing = std::deque<Error>{server_error(), server_error()};
  Fixture f(failing,
            ModelRoute{.targets = {{"primary", "gpt"}, {"primary", "gpt-2"}}, .retries = 0});
  const RunResult result = f.run({0});
  CHECK(contains(result.state.at("answers").at(0).as_string(), "ok from primary") == false);
  CHECK(contains(result.state.at("answers").at(0).as_string(), "server_error"));
  CHECK(f.primary->models() == std::vector<std::string>{"gpt", "gpt-2"});
  CHECK(result.usage.fallbacks == 1);
}
