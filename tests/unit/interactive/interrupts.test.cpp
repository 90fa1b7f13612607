// Interrupts: a node asks the host's person and goes on with the answer; the rest of the run
// does not wait; answers reach their own interrupt once, also across retries and resumes.
#include <actorflow/actorflow.hpp>
#include <actorflow/checkpoint.hpp>
#include <actorflow/testing.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

// Reads `events` until `count` pending interrupts have been raised (bounded); returns them.
std::vector<Interrupt> await_pending(EventStream& events, std::size_t count) {
  std::vector<Interrupt> raised;
  while (raised.size() < count) {
    auto event = events.next_for(30s);
    REQUIRE_MESSAGE(event.has_value(), "no interrupt came");
    REQUIRE_FALSE(std::holds_alternative<RunFinished>(event->body));
    if (auto* e = std::get_if<InterruptEvent>(&event->body))
      if (e->interrupt.status == InterruptStatus::pending)
        raised.push_back(e->interrupt);
  }
  return raised;
}

// A node that asks `question` and writes the answer to "answer".
NodeFactory asking(Value question) {
  return lambda_node({.prep = nullptr,
                      .exec = [question](Value, Context& ctx) -> Task<Value> {
                        auto answer = co_await ctx.interrupt(question);
                        if (!answer)
                          throw Failure(answer.error());
                        co_return std::move(*answer);
                      },
                      .post =
                          [](State& state, const Value&, const Value& answer) {
                            state = state.with("answer", answer);
                            return std::string(default_action);
                          }});
}

// Items 4, 9 and 15 of 0..19 ask; the others return their square at once.
class Review final : public ParallelBatchNode {
public:
  explicit Review(std::shared_ptr<std::atomic<int>> execs)
      : ParallelBatchNode(BatchOptions{.max_concurrency = 4}), execs_(std::move(execs)) {}
  Value prep(const State& state) override { return state.at("items"); }
  Task<Value> exec(Value item, Context& ctx) override {
    ++*execs_;
    const auto i = item.as_int();
    if (i != 4 && i != 9 && i != 15)
      co_return i* i;
    auto answer = co_await ctx.interrupt(Value("approve item " + std::to_string(i) + "?"));
    if (!answer)
      throw Failure(answer.error());
    co_return std::move(*answer);
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array out;
    for (auto& outcome : result.items)
      out.push_back(outcome.ok() ? outcome.value() : Value(outcome.error().message));
    state = state.with("results", Value(std::move(out)));
    return std::string(default_action);
  }

private:
  std::shared_ptr<std::atomic<int>> execs_;
};

Flow review_flow(std::shared_ptr<std::atomic<int>> execs) {
  return must(FlowBuilder("review").node<Review>("review", std::move(execs)).build());
}

State twenty_items() {
  Array items;
  for (int i = 0; i < 20; ++i)
    items.emplace_back(i);
  return State{}.with("items", Value(std::move(items)));
}

} // namespace

TEST_CASE("an interrupt in a single node: reported with its node and question, answered once") {
  Runtime runtime{two_workers()};
  auto flow = must(FlowBuilder("ask").node("confirm", asking(Value("delete it?"))).build());
  auto run = runtime.run(flow);
  auto events = run.events();
  auto pending = await_pending(events, 1);
  const auto& interrupt = pending.front();
  CHECK(interrupt.node == "confirm");
  CHECK_FALSE(interrupt.item.has_value());
  CHECK(interrupt.question == Value("delete it?"));
  CHECK(interrupt.id.size() == 32);
  auto listed = run.interrupts();
  REQUIRE(listed.size() == 1);
  CHECK(listed.front().id == interrupt.id);
  CHECK_FALSE(run.done()); // it waits for the person

  auto unknown = run.answer("0123", Value("yes"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::bad_input);
  CHECK(contains(unknown.error().message, "no interrupt '0123'"));

  must(runtime.answer(run.name(), interrupt.id, Value("yes")));
  auto twice = run.answer(interrupt.id, Value("no"));
  REQUIRE_FALSE(twice.ok());
  CHECK(contains(twice.error().message, "already answered"));
  auto result = must(run.get());
  CHECK(result.state.at("answer") == Value("yes"));
  CHECK(run.interrupts().empty());
}

TEST_CASE("an interrupt in a nested flow is labelled with its path") {
  Runtime runtime{two_workers()};
  auto inner = must(FlowBuilder("inner").node("check", asking(Value("ok?"))).build());
  auto outer = must(FlowBuilder("outer").node("gate", inner).build());
  auto run = runtime.run(outer);
  auto events = run.events();
  auto pending = await_pending(events, 1);
  CHECK(pending.front().node == "gate/check");
  must(run.answer(pending.front().id, Value(42)));
  CHECK(must(run.get()).state.at("answer") == Value(42));
}

TEST_CASE("3 of 20 batch items ask: the others finish meanwhile, answers in reverse order reach "
          "their own item") {
  Runtime runtime{two_workers()};
  auto execs = std::make_shared<std::atomic<int>>(0);
  auto run = runtime.run(review_flow(execs), twenty_items(), {.stream = StreamMode::items});
  auto events = run.events();
  std::vector<Interrupt> pending;
  std::set<std::size_t> finished;
  // Every other item settles while three wait (a window of 4: the waiting ones hold 3 slots).
  while (pending.size() < 3 || finished.size() < 17) {
    auto event = events.next_for(30s);
    REQUIRE(event.has_value());
    if (auto* e = std::get_if<InterruptEvent>(&event->body))
      pending.push_back(e->interrupt);
    if (std::holds_alternative<ItemFinished>(event->body))
      finished.insert(event->item.value());
  }
  CHECK_FALSE(run.done());
  std::map<std::size_t, std::string> ids;
  for (const auto& p : pending)
    ids[p.item.value()] = p.id;
  CHECK(ids.size() == 3);
  CHECK(ids.count(4) == 1);
  CHECK(ids.count(9) == 1);
  CHECK(ids.count(15) == 1);
  CHECK(pending.front().node == "review");
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) // 15, 9, 4
    must(run.answer(it->second, Value("ok " + std::to_string(it->first))));
  auto results = must(run.get()).state.at("results").as_array();
  REQUIRE(results.size() == 20);
  CHECK(results[4] == Value("ok 4"));
  CHECK(results[9] == Value("ok 9"));
  CHECK(results[15] == Value("ok 15"));
  CHECK(results[5] == Value(25));
  CHECK(execs->load() == 20);
}

namespace {

// Two parallel branches (sub-flows of one node's exec) that ask the same question.
Flow fan_flow() {
  auto branch = must(FlowBuilder("branch").node("ask", asking(Value("go?"))).build());
  auto fan =
      lambda_node({.prep = nullptr,
                   .exec = [branch](Value, Context& ctx) -> Task<Value> {
                     std::vector<std::pair<Flow, State>> runs{{branch, State{}}, {branch, State{}}};
                     auto results = co_await ctx.run_all(std::move(runs));
                     Array answers;
                     for (auto& r : results)
                       answers.push_back(r ? r->state.at("answer") : Value("failed"));
                     co_return Value(std::move(answers));
                   },
                   .post =
                       [](State& state, const Value&, const Value& answers) {
                         state = state.with("answers", answers);
                         return std::string(default_action);
                       }});
  return must(FlowBuilder("fan").node("fan", fan).build());
}

} // namespace

TEST_CASE("parallel branches ask the same question: distinct interrupts, answered together") {
  Runtime runtime{two_workers()};
  auto run = runtime.run(fan_flow());
  auto events = run.events();
  auto pending = await_pending(events, 2);
  CHECK(pending[0].id != pending[1].id);
  CHECK(pending[0].node == "fan/ask");
  // Both at once, from two threads.
  std::thread a([&] { must(run.answer(pending[0].id, Value("A"))); });
  must(run.answer(pending[1].id, Value("B")));
  a.join();
  auto answers = must(run.get()).state.at("answers").as_array();
  REQUIRE(answers.size() == 2);
  CHECK(((answers[0] == Value("A") && answers[1] == Value("B")) ||
         (answers[0] == Value("B") && answers[1] == Value("A"))));
}

TEST_CASE("a retried exec gets its answer again without asking twice") {
  Runtime runtime{two_workers()};
  auto attempts = std::make_shared<std::atomic<int>>(0);
  auto node = lambda_node({.prep = nullptr,
                           .exec = [attempts](Value, Context& ctx) -> Task<Value> {
                             auto answer = co_await ctx.interrupt(Value("sure?"));
                             if (++*attempts == 1)
                               throw Failure(Error{Errc::server_error, "flaky after asking"});
                             co_return answer.ok() ? *answer : Value("error");
                           },
                           .post = nullptr});
  auto flow = must(FlowBuilder("retry")
                       .node("ask", node)
                       .retry("ask", RetryPolicy{.max_attempts = 2, .initial_backoff = Millis(1)})
                       .build());
  Collected<RunEvent> seen;
  auto run = runtime.run(flow, {}, {.on_event = seen.hook()});
  REQUIRE(eventually([&] { return run.interrupts().size() == 1; }));
  must(run.answer(run.interrupts().front().id, Value("yes")));
  must(run.get());
  CHECK(attempts->load() == 2);
  int raised = 0;
  for (const auto& event : seen.events())
    if (auto* e = std::get_if<InterruptEvent>(&event.body))
      raised += e->interrupt.status == InterruptStatus::pending ? 1 : 0;
  CHECK(raised == 1);
  CHECK(std::holds_alternative<RunFinished>(seen.events().back().body));
}

TEST_CASE("an interrupt's timeout: its default answer, or a timeout error") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto config = two_workers();
  config.clock = clock;
  Runtime runtime{std::move(config)};
  auto with_default =
      lambda_node({.prep = nullptr,
                   .exec = [](Value, Context& ctx) -> Task<Value> {
                     auto answer = co_await ctx.interrupt(Value("proceed?"), 5s, Value("no"));
                     co_return answer.ok() ? *answer : Value(answer.error().to_string());
                   },
                   .post =
                       [](State& state, const Value&, const Value& answer) {
                         state = state.with("answer", answer);
                         return std::string(default_action);
                       }});
  auto without =
      lambda_node({.prep = nullptr,
                   .exec = [](Value, Context& ctx) -> Task<Value> {
                     const InterruptOptions wait{.timeout = 2s}; // named: see Context::interrupt
                     auto answer = co_await ctx.interrupt(Value("proceed?"), wait);
                     co_return answer.ok() ? *answer : Value(answer.error().to_string());
                   },
                   .post =
                       [](State& state, const Value&, const Value& answer) {
                         state = state.with("answer", answer);
                         return std::string(default_action);
                       }});
  SUBCASE("default") {
    auto run = runtime.run(must(FlowBuilder("d").node("ask", with_default).build()));
    auto result = must(drive(run, *clock));
    CHECK(result.state.at("answer") == Value("no"));
    CHECK(clock->elapsed() >= 5s);
  }
  SUBCASE("error") {
    auto run = runtime.run(must(FlowBuilder("e").node("ask", without).build()));
    auto answer = must(drive(run, *clock)).state.at("answer").as_string();
    CHECK(contains(answer, "timeout"));
    CHECK(contains(answer, "no answer within 2000 ms"));
  }
}

TEST_CASE("a cancelled run cancels its pending interrupts") {
  Runtime runtime{two_workers()};
  auto flow = must(FlowBuilder("ask").node("confirm", asking(Value("?"))).build());
  auto run = runtime.run(flow);
  auto events = run.events();
  auto pending = await_pending(events, 1);
  run.cancel();
  auto result = run.get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::cancelled);
  CHECK(run.interrupts().empty());
  auto late = run.answer(pending.front().id, Value("yes"));
  REQUIRE_FALSE(late.ok());
  CHECK(contains(late.error().message, "cancelled"));
  // The stream saw the cancellation, then the run's end.
  bool cancelled = false;
  while (auto event = events.next_for(10s)) {
    if (auto* e = std::get_if<InterruptEvent>(&event->body))
      cancelled = cancelled || e->interrupt.status == InterruptStatus::cancelled;
    if (std::holds_alternative<RunFinished>(event->body))
      break;
  }
  CHECK(cancelled);
}

TEST_CASE("durable: the Runtime exits while items wait, another answers in the store, a resume "
          "delivers each answer once and runs no committed item again") {
  TempDir dir;
  const auto db = (dir.path() / "runs.db").string();
  std::vector<Interrupt> pending;
  {
    auto config = two_workers();
    config.checkpoints = must(open_checkpoint_store(db));
    Runtime runtime{std::move(config)};
    auto execs = std::make_shared<std::atomic<int>>(0);
    auto run = runtime.run(review_flow(execs), twenty_items(),
                           {.run_id = "review-1", .stream = StreamMode::items});
    auto events = run.events();
    std::size_t finished = 0;
    while (pending.size() < 3 || finished < 17) {
      auto event = events.next_for(30s);
      REQUIRE(event.has_value());
      if (auto* e = std::get_if<InterruptEvent>(&event->body))
        pending.push_back(e->interrupt);
      finished += std::holds_alternative<ItemFinished>(event->body) ? 1 : 0;
    }
    // Every settled item is committed before the Runtime goes (its writer flushes at the end).
  } // shut down while waiting
  auto store = must(open_checkpoint_store(db));
  auto record = must(store->load_run("review-1")).record;
  CHECK(record.status == RunStatus::interrupted);
  CHECK(record.pending_interrupts == 3);

  auto config = two_workers();
  config.checkpoints = store;
  Runtime runtime{std::move(config)};
  auto listed = must(runtime.interrupts("review-1"));
  REQUIRE(listed.size() == 3);
  for (const auto& interrupt : listed)
    must(runtime.answer("review-1", interrupt.id, Value("ok " + std::to_string(*interrupt.item))));
  auto twice = runtime.answer("review-1", listed.front().id, Value("again"));
  REQUIRE_FALSE(twice.ok());
  CHECK(contains(twice.error().message, "already answered"));

  auto execs = std::make_shared<std::atomic<int>>(0);
  Collected<RunEvent> seen;
  auto resumed = runtime.resume(review_flow(execs), "review-1", {.on_event = seen.hook()});
  auto results = must(resumed.get()).state.at("results").as_array();
  CHECK(execs->load() == 3); // only the three that waited run again
  CHECK(results[4] == Value("ok 4"));
  CHECK(results[9] == Value("ok 9"));
  CHECK(results[15] == Value("ok 15"));
  CHECK(results[3] == Value(9));
  for (const auto& event : seen.events()) // no interrupt fired again
    CHECK_FALSE(std::holds_alternative<InterruptEvent>(event.body));
  CHECK(must(store->load_run("review-1")).record.status == RunStatus::succeeded);
  auto unknown = runtime.answer("review-2", "abc", Value(1));
  REQUIRE_FALSE(unknown.ok());
  CHECK(contains(unknown.error().message, "review-2"));
}

TEST_CASE("durable: interrupts of parallel branches do not fire again on resume, and each "
          "answer reaches the branch it belongs to") {
  // The branches' ids, and which answer lands where, from a run that is answered in place.
  std::map<std::string, std::string> answer_of; // id -> answer
  Value expected;
  {
    Runtime runtime{two_workers()};
    auto run = runtime.run(fan_flow());
    auto events = run.events();
    auto pending = await_pending(events, 2);
    answer_of[pending[0].id] = "A";
    answer_of[pending[1].id] = "B";
    for (const auto& [id, answer] : answer_of)
      must(run.answer(id, Value(answer)));
    expected = must(run.get()).state.at("answers");
  }
  TempDir dir;
  const auto db = (dir.path() / "runs.db").string();
  {
    auto config = two_workers();
    config.checkpoints = must(open_checkpoint_store(db));
    Runtime runtime{std::move(config)};
    auto run = runtime.run(fan_flow(), {}, {.run_id = "fan"});
    auto events = run.events();
    auto pending = await_pending(events, 2);
    for (const auto& p : pending) // the same interrupts as in the run above
      CHECK(answer_of.count(p.id) == 1);
  } // exits while both wait
  auto config = two_workers();
  config.checkpoints = must(open_checkpoint_store(db));
  Runtime runtime{std::move(config)};
  for (auto it = answer_of.rbegin(); it != answer_of.rend(); ++it) // the other order
    must(runtime.answer("fan", it->first, Value(it->second)));
  Collected<RunEvent> seen;
  auto resumed = runtime.resume(fan_flow(), "fan", {.on_event = seen.hook()});
  CHECK(must(resumed.get()).state.at("answers") == expected);
  for (const auto& event : seen.events())
    CHECK_FALSE(std::holds_alternative<InterruptEvent>(event.body));
}

TEST_CASE("an on_event callback answers an interrupt as it is raised, from inside the callback") {
  Runtime runtime{two_workers()};
  auto flow = must(FlowBuilder("ask").node("confirm", asking(Value("auto?"))).build());
  std::atomic<int> answered{0};
  std::atomic<bool> finished_last{false};
  std::atomic<bool> after_finish{false};
  auto run = runtime.run(flow, {}, {.on_event = [&](const RunEvent& event) {
                           after_finish = after_finish || finished_last;
                           if (auto* e = std::get_if<InterruptEvent>(&event.body);
                               e && e->interrupt.status == InterruptStatus::pending) {
                             // Before run() has returned the handle: the run's name says where.
                             CHECK(runtime.answer(e->run, e->interrupt.id, Value("done")).ok());
                             ++answered;
                           }
                           finished_last = std::holds_alternative<RunFinished>(event.body);
                         }});
  CHECK(must(run.get()).state.at("answer") == Value("done"));
  CHECK(answered == 1);
  CHECK(finished_last);
  CHECK_FALSE(after_finish);
}
