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
                        {"error", run.error},
                        {"created", utc(run.created)},
                        {"updated", utc(run.updated)}});
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
  std::printf("%-24s %-16s %-10s %6s %-20s %10s %8s %10s  %s\n", "run", "flow", "status", "steps",
              "next node", "items", "failed", "tokens", "updated (UTC)");
  for (const auto& run : *runs)
    std::printf("%-24s %-16s %-10s %6llu %-20s %10llu %8llu %10llu  %s\n", run.run_id.c_str(),
                run.flow.c_str(), std::string(to_string(run.status)).c_str(),
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
