// Makes the checkpoint store the browser test views (tests/browser/ui.test.mjs): a finished run,
// a failed run (a batch whose items 3, 10, 17, ... throw "no text in document N") and a run
// left with a pending interrupt, each with its trace in the trace folder; and a run recorded
// as running, which `--advance` moves on (items, then its end) as a live run's process would. The
// summaries come from the embedded offline `local` provider, priced so that the runs show a cost.
//   actorflow-ui-make-store <store.db> <trace dir>
//   actorflow-ui-make-store --advance <store.db> <run id>
#include <actorflow/actorflow.hpp>
#include <actorflow/checkpoint.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

using namespace actorflow;
using namespace std::chrono_literals;

namespace {

// Summarises document i; documents 3, 10, 17, ... have no text when `broken`.
class Summarise final : public ParallelBatchNode {
public:
  explicit Summarise(bool broken)
      : ParallelBatchNode(BatchOptions{.max_concurrency = 4}), broken_(broken) {}
  Value prep(const State& state) override { return state.at("documents"); }
  Task<Value> exec(Value item, Context& ctx) override {
    const auto i = item.as_int();
    if (broken_ && i % 7 == 3)
      throw std::runtime_error("no text in document " + std::to_string(i));
    std::string prompt = "summarise: Document " + std::to_string(i) +
                         " reports the weekly news. It names the sources it used.";
    auto reply = co_await ctx.llm().chat(std::move(prompt)); // the offline `local` provider
    co_return std::move(reply).value().text;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    if (result.summary.failed > 0)
      throw Failure(Error{Errc::batch_failed, std::to_string(result.summary.failed) + " of " +
                                                  std::to_string(result.items.size()) +
                                                  " documents could not be summarised"});
    state = state.with("summaries", Value(result_values(std::move(result.items))));
    return std::string(default_action);
  }

private:
  bool broken_;
};

NodeFactory set(std::string key, Value value) {
  return step_node([key = std::move(key), value = std::move(value)](State& state) {
    state = state.with(key, value);
    return std::string(default_action);
  });
}

// load -> prepare (a nested flow: clean -> tag) -> summarise (a batch) -> report
Flow summaries_flow(bool broken) {
  Flow prepare = FlowBuilder("prepare")
                     .node("clean", set("cleaned", true))
                     .node("tag", set("tags", Value(Array{Value("news"), Value("weekly")})))
                     .edge("clean", "tag")
                     .start("clean")
                     .build()
                     .value();
  Array documents;
  for (int i = 0; i < 24; ++i)
    documents.push_back(Value(i));
  return FlowBuilder("summaries")
      .node("load", set("documents", Value(std::move(documents))))
      .node("prepare", std::move(prepare))
      .node("summarise", [broken] { return std::make_unique<Summarise>(broken); })
      .node("report", set("report", Value("done")))
      .edge("load", "prepare")
      .edge("prepare", "summarise")
      .edge("summarise", "report")
      .start("load")
      .build()
      .value();
}

// review -> publish, where review asks a person first.
Flow review_flow() {
  return FlowBuilder("review")
      .node("review", lambda_node({.prep = nullptr,
                                   .exec = [](Value, Context& ctx) -> Task<Value> {
                                     auto answer =
                                         co_await ctx.interrupt(Value("publish the summaries?"));
                                     if (!answer)
                                       throw Failure(answer.error());
                                     co_return std::move(*answer);
                                   },
                                   .post =
                                       [](State& state, const Value&, const Value& answer) {
                                         state = state.with("approved", answer);
                                         return std::string(default_action);
                                       }}))
      .node("publish", set("published", true))
      .edge("review", "publish")
      .start("review")
      .build()
      .value();
}

int fail(const std::string& why) {
  std::fprintf(stderr, "make_store: %s\n", why.c_str());
  return 1;
}

// What another process's live run does to the store: a few items, then its end.
int advance(const std::string& db, const std::string& run_id) {
  auto store = open_checkpoint_store(db);
  if (!store)
    return fail(store.error().to_string());
  std::vector<ItemCheckpoint> items;
  for (std::size_t i = 0; i < 5; ++i) {
    ItemOutcome outcome;
    outcome.index = i;
    outcome.result = Value("summary " + std::to_string(i));
    outcome.attempts = 1;
    items.push_back(ItemCheckpoint{"item-" + std::to_string(i), outcome, "summarise"});
  }
  if (auto committed = (*store)->commit_items(run_id, items, 0.25); !committed)
    return fail(committed.error().to_string());
  if (auto ended = (*store)->end_run(run_id, RunStatus::succeeded, "", 0.25); !ended)
    return fail(ended.error().to_string());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--advance")
    return advance(argv[2], argv[3]);
  if (argc != 3)
    return fail("usage: actorflow-ui-make-store <store.db> <trace dir>\n"
                "       actorflow-ui-make-store --advance <store.db> <run id>");
  auto store = open_checkpoint_store(argv[1]);
  if (!store)
    return fail(store.error().to_string());
  RuntimeConfig config;
  config.worker_threads = 2;
  config.checkpoints = *store;
  config.trace_dir = argv[2];
  config.prices.set("*", "*",
                    Price{.input = 0.15, .cached_input = {}, .output = 0.6, .batch_discount = 0.5});
  {
    Runtime runtime{std::move(config)};
    auto finished = runtime.run(summaries_flow(false), State(), {.run_id = "nightly-finished"});
    if (auto result = finished.get(); !result)
      return fail("the finished run failed: " + result.error().to_string());
    auto failed = runtime.run(summaries_flow(true), State(), {.run_id = "nightly-failed"});
    if (failed.get().ok())
      return fail("the failed run succeeded");
    auto review = runtime.run(review_flow(), State(),
                              {.run_id = "review-waiting", .stream = StreamMode::items});
    auto events = review.events();
    for (bool asked = false; !asked;) {
      auto event = events.next_for(30s);
      if (!event)
        return fail("the review run asked nothing within 30 s");
      if (auto* e = std::get_if<InterruptEvent>(&event->body))
        asked = e->interrupt.status == InterruptStatus::pending;
    }
  } // shut down while the review waits: it stays interrupted, its question pending
  // A run another process is running: `--advance` moves it on while the page watches.
  if (auto begun = (*store)->begin_run("live-run", "summaries", State()); !begun)
    return fail(begun.error().to_string());
  auto runs = (*store)->list_runs();
  if (!runs || runs->size() != 4)
    return fail("the store does not hold the four runs");
  std::printf("made %s with %zu runs\n", argv[1], runs->size());
  return 0;
}
