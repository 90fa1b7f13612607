// `actorflow runs`: reads and prunes a checkpoint store, the way an operator looks at the
// nightly batches: which runs there are, where each one stands, what it cost.

#include "runs.hpp"

#include <actorflow/checkpoint.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace actorflow::tools {

namespace {

std::string utc(std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

Value to_value(const RunRecord& run) {
  return Value::object({{"run_id", run.run_id},
                        {"flow", run.flow},
                        {"status", std::string(to_string(run.status))},
                        {"steps", run.steps},
                        {"last_node", run.last_node},
                        {"next_node", run.next_node},
                        {"items_done", run.items_done},
                        {"items_failed", run.items_failed},
                        {"tokens", run.tokens},
                        {"cost", run.cost},
                        {"pending_interrupts", run.pending_interrupts},
                        {"error", run.error},
                        {"created", utc(run.created)},
                        {"updated", utc(run.updated)}});
}

Value to_value(const Interrupt& interrupt) {
  return Value::object({{"id", interrupt.id},
                        {"status", std::string(to_string(interrupt.status))},
                        {"node", interrupt.node},
                        {"item", interrupt.item ? Value(*interrupt.item) : Value()},
                        {"question", interrupt.question},
                        {"answer", interrupt.answer}});
}

int failed(const Error& error) {
  std::cerr << "actorflow runs: " << error.to_string() << "\n";
  return 1;
}

Result<CheckpointStorePtr> open(const RunsOptions& options) {
  auto store = open_checkpoint_store(options.db);
  if (!store)
    failed(store.error());
  return store;
}

} // namespace

int runs_list(const RunsOptions& options) {
  auto store = open(options);
  if (!store)
    return 1;
  auto runs = (*store)->list_runs();
  if (!runs)
    return failed(runs.error());
  if (options.json) {
    Array out;
    for (const auto& run : *runs)
      out.push_back(to_value(run));
    std::cout << to_json(Value(std::move(out)), 2) << "\n";
    return 0;
  }
  std::printf("%-24s %-16s %-11s %7s %6s %-20s %10s %8s %10s  %s\n", "run", "flow", "status",
              "pending", "steps", "next node", "items", "failed", "tokens", "updated (UTC)");
  for (const auto& run : *runs)
    std::printf("%-24s %-16s %-11s %7llu %6llu %-20s %10llu %8llu %10llu  %s\n", run.run_id.c_str(),
                run.flow.c_str(), std::string(to_string(run.status)).c_str(),
                static_cast<unsigned long long>(run.pending_interrupts),
                static_cast<unsigned long long>(run.steps),
                run.next_node.empty() ? "-" : run.next_node.c_str(),
                static_cast<unsigned long long>(run.items_done),
                static_cast<unsigned long long>(run.items_failed),
                static_cast<unsigned long long>(run.tokens), utc(run.updated).c_str());
  return 0;
}

int runs_show(const RunsOptions& options) {
  auto store = open(options);
  if (!store)
    return 1;
  auto run = (*store)->load_run(options.run_ids.at(0));
  if (!run)
    return failed(run.error());
  auto value = to_value(run->record);
  if (run->last_step)
    value.as_map()["state"] = run->last_step->state.to_value();
  std::cout << to_json(value, 2) << "\n";
  return 0;
}

int runs_interrupts(const RunsOptions& options) {
  auto store = open(options);
  if (!store)
    return 1;
  const std::string& run_id = options.run_ids.at(0);
  auto interrupts = (*store)->load_interrupts(run_id);
  if (!interrupts)
    return failed(interrupts.error());
  if (options.json) {
    Array out;
    for (const auto& interrupt : *interrupts)
      out.push_back(to_value(interrupt));
    std::cout << to_json(Value(std::move(out)), 2) << "\n";
    return 0;
  }
  if (interrupts->empty())
    std::printf("run '%s' has no interrupts\n", run_id.c_str());
  for (const auto& interrupt : *interrupts) {
    std::printf("%s  %-9s  %s", interrupt.id.c_str(),
                std::string(to_string(interrupt.status)).c_str(), interrupt.node.c_str());
    if (interrupt.item)
      std::printf("  item %zu", *interrupt.item);
    std::printf("\n  question: %s\n", to_json(interrupt.question).c_str());
    if (interrupt.status == InterruptStatus::answered ||
        interrupt.status == InterruptStatus::defaulted)
      std::printf("  answer:   %s\n", to_json(interrupt.answer).c_str());
  }
  return 0;
}

int runs_answer(const RunsOptions& options) {
  // Checked before the store is opened: a typo must not cost a trip to the file.
  auto answer = from_json(options.answer);
  if (!answer)
    return failed(Error{Errc::bad_input, "answer: not JSON (" + answer.error().message +
                                             "); a string is quoted: '\"yes\"'"});
  auto store = open(options);
  if (!store)
    return 1;
  const std::string& run_id = options.run_ids.at(0);
  if (auto answered = (*store)->answer_interrupt(run_id, options.interrupt_id, *answer); !answered)
    return failed(answered.error());
  std::printf("answered interrupt '%s' of run '%s'\n", options.interrupt_id.c_str(),
              run_id.c_str());
  return 0;
}

int runs_delete(const RunsOptions& options) {
  if (options.run_ids.empty() && options.ended_days_ago == 0) // "deleted 0 runs" would hide it
    return failed(Error{Errc::bad_input, "delete: name the runs, or give --ended-days-ago N"});
  auto store = open(options);
  if (!store)
    return 1;
  std::size_t deleted = 0;
  if (!options.run_ids.empty()) {
    auto gone = (*store)->delete_runs(options.run_ids);
    if (!gone)
      return failed(gone.error());
    deleted += *gone;
  }
  if (options.ended_days_ago > 0) {
    auto before = std::chrono::system_clock::now() -
                  std::chrono::hours(24 * static_cast<long>(options.ended_days_ago));
    auto gone = (*store)->delete_ended_before(before);
    if (!gone)
      return failed(gone.error());
    deleted += *gone;
  }
  std::printf("deleted %zu run%s\n", deleted, deleted == 1 ? "" : "s");
  return 0;
}

} // namespace actorflow::tools
