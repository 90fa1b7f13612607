// A run that waits for a person across processes. Six summaries are drafted in parallel; the
// two of sensitive documents each ask for approval (`ctx.interrupt`) before they are
// published. The run is durable (a checkpoint store and a run id), so the first process can
// simply exit while those questions are pending: the four other items are committed, and the
// run is recorded as `interrupted` with its two questions.
//
// A second process (the same program with --answer) reads the pending questions from the
// store, answers them there, and resumes the run: only the two waiting items run again (the
// committed four hand over their outcome), each replays its exec up to its interrupt, which
// returns the recorded answer at once: nobody is asked twice.
//
//   resume_after_approval --db runs.db                 # asks, and exits while waiting
//   resume_after_approval --db runs.db --answer yes    # answers, resumes, finishes
//   resume_after_approval --selftest                   # both, as two child processes (CI)
//
// What re-runs: exec replays from its start, so the model call before the interrupt is made
// again for the two waiting items (the "model calls" line shows it). Work too costly to repeat
// belongs in a batch item of its own, committed before the question is asked.
#include <actorflow/checkpoint.hpp>

#include "example_support.hpp"

#include <unistd.h> // getpid

#include <atomic>
#include <cstdio>
#include <iostream>

using namespace actorflow;

namespace {

const char* const documents[] = {"roadmap", "salaries (sensitive)", "changelog",
                                 "faq",     "audit (sensitive)",    "glossary"};

std::atomic<int> model_calls{0};
std::atomic<int> item_runs{0};

class Drafts final : public ParallelBatchNode {
public:
  Drafts() : ParallelBatchNode(BatchOptions{.max_concurrency = 6}) {}
  Value prep(const State& state) override { return state.at("documents"); }
  Task<Value> exec(Value document, Context& ctx) override {
    ++item_runs;
    const auto name = document.as_string();
    ++model_calls;
    auto draft = co_await ctx.llm().chat("Summarise the " + name + " document.");
    if (!draft)
      throw Failure(draft.error());
    if (name.find("sensitive") == std::string::npos)
      co_return "published: " + draft->text;
    auto answer = co_await ctx.interrupt(Value("Publish the summary of " + name + "?"));
    if (!answer)
      throw Failure(answer.error());
    const bool yes = answer->is_string() && !answer->as_string().empty() &&
                     (answer->as_string()[0] == 'y' || answer->as_string()[0] == 'Y');
    co_return yes ? "published: " + draft->text : std::string("withheld: ") + name;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array out;
    for (auto& outcome : result.items)
      out.push_back(outcome.ok() ? outcome.value() : Value(outcome.error().to_string()));
    state = state.with("drafts", Value(std::move(out)));
    return std::string(default_action);
  }
};

Flow publish_flow() { return FlowBuilder("publish").node<Drafts>("drafts").build().value(); }

RuntimeConfig config_with(const std::string& db) {
  auto config = examples::runtime_config_or_exit("");
  auto store = open_checkpoint_store(db);
  if (!store) {
    std::cerr << store.error().to_string() << "\n";
    std::exit(1);
  }
  config.checkpoints = *store;
  return config;
}

// The first process: runs until every question is pending, then exits without answering.
int ask(const std::string& db, const std::string& run_id) {
  Runtime runtime{config_with(db)};
  State initial =
      State{}.with("documents", Value(Array(std::begin(documents), std::end(documents))));
  auto run = runtime.run(publish_flow(), initial, {.run_id = run_id, .stream = StreamMode::items});
  std::size_t settled = 0;
  std::size_t pending = 0;
  auto events = run.events();
  while (settled + pending < std::size(documents)) {
    auto event = events.next();
    if (!event || std::holds_alternative<RunFinished>(event->body)) {
      std::cerr << "the run ended before it asked: " << run.get().error().to_string() << "\n";
      return 1;
    }
    settled += std::holds_alternative<ItemFinished>(event->body) ? 1 : 0;
    if (auto* raised = std::get_if<InterruptEvent>(&event->body)) {
      ++pending;
      std::cout << "waiting: " << raised->interrupt.question.as_string() << " (interrupt "
                << raised->interrupt.id << ", item " << raised->interrupt.item.value_or(0) << ")\n";
    }
  }
  std::cout << "items settled: " << settled << "\n";
  std::cout << "pending: " << pending << "\n";
  std::cout << "model calls: " << model_calls << "\n";
  std::cout << "exiting while the run waits; answer with --answer yes|no\n";
  return 0; // the Runtime shuts down: the run is recorded as interrupted
}

// The second process: answers in the store, then resumes.
int answer(const std::string& db, const std::string& run_id, const std::string& reply) {
  Runtime runtime{config_with(db)};
  auto waiting = runtime.interrupts(run_id);
  if (!waiting) {
    std::cerr << waiting.error().to_string() << "\n";
    return 1;
  }
  for (const auto& interrupt : *waiting) {
    std::cout << "answering '" << reply << "' to: " << interrupt.question.as_string() << "\n";
    if (auto done = runtime.answer(run_id, interrupt.id, Value(reply)); !done) {
      std::cerr << done.error().to_string() << "\n";
      return 1;
    }
  }
  std::size_t asked_again = 0;
  auto run = runtime.resume(publish_flow(), run_id, {.stream = StreamMode::none});
  auto events = run.events();
  while (auto event = events.next())
    if (std::holds_alternative<InterruptEvent>(event->body))
      ++asked_again;
  auto result = run.get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  for (const auto& draft : result->state.at("drafts").as_array())
    std::cout << "  " << draft.as_string().substr(0, 70) << "\n";
  std::cout << "answered: " << waiting->size() << "\n";
  std::cout << "items run again: " << item_runs << " of " << std::size(documents) << "\n";
  std::cout << "model calls: " << model_calls << "\n";
  std::cout << "asked again: " << asked_again << "\n";
  return asked_again != 0 ? 1 : 0;
}

// Both processes, as CI runs them: each a child of this one, on a fresh store.
int selftest(const char* self) {
  auto db = (std::filesystem::temp_directory_path() /
             std::string("resume_after_approval-").append(std::to_string(::getpid())).append(".db"))
                .string();
  auto run = [&](const std::string& args) {
    auto command = std::string("'").append(self).append("' --db '").append(db).append("' ");
    command += args;
    std::cout << "$ " << command << "\n" << std::flush;
    return std::system(command.c_str());
  };
  const bool ok = run("") == 0 && run("--answer yes") == 0;
  for (const char* suffix : {"", "-wal", "-shm"})
    std::remove((db + suffix).c_str());
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"A run that waits for approval across processes."};
  std::string db = "runs.db";
  std::string run_id = "publish-1";
  std::string reply;
  bool self_test = false;
  bool graph = false;
  app.add_option("--db", db, "The checkpoint store: an SQLite file or a postgresql:// URL");
  app.add_option("--run-id", run_id, "The durable run's id");
  app.add_option("--answer", reply, "Answer the pending questions with this, and resume");
  app.add_flag("--selftest", self_test, "Run both processes on a temporary store");
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);
  if (examples::graph_printed(graph, publish_flow()))
    return 0;
  if (self_test)
    return selftest(argv[0]);
  return reply.empty() ? ask(db, run_id) : answer(db, run_id, reply);
}
