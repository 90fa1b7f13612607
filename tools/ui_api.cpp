#include "ui_api.hpp"

#include <actorflow/trace.hpp>
#include <actorflow/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

namespace actorflow::tools {

namespace {

constexpr RunStatus all_statuses[] = {RunStatus::running, RunStatus::succeeded, RunStatus::failed,
                                      RunStatus::cancelled, RunStatus::interrupted};

// A value longer than this (as JSON) is cut in an item's preview.
constexpr std::size_t preview_chars = 600;
// Spans a timeline gets at most: a browser draws this many bars quickly, and a 100k-item batch's
// trace would otherwise be a page of hundreds of megabytes.
constexpr std::size_t max_spans = 20'000;

std::int64_t ms_since_epoch(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

nlohmann::json value_json(const Value& value) {
  // A string that is not UTF-8 makes JSON that nlohmann refuses: the page says so instead of
  // getting a broken answer.
  nlohmann::json parsed = nlohmann::json::parse(to_json(value), nullptr, false);
  if (parsed.is_discarded())
    return "(a value that JSON cannot show: not UTF-8)";
  return parsed;
}

nlohmann::json run_record_json(const RunRecord& run) {
  const auto now = std::chrono::system_clock::now();
  const auto end = run.status == RunStatus::running ? now : run.updated;
  return {{"run_id", run.run_id},
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
          {"created_ms", ms_since_epoch(run.created)},
          {"updated_ms", ms_since_epoch(run.updated)},
          {"duration_ms",
           std::max<std::int64_t>(0, ms_since_epoch(end) - ms_since_epoch(run.created))}};
}

nlohmann::json error_json(const Error& error) {
  return {{"code", std::string(to_string(error.code))}, {"message", error.message}};
}

nlohmann::json item_json(const ItemRecord& item) {
  const ItemOutcome& outcome = item.outcome;
  nlohmann::json out = {
      {"index", outcome.index},
      {"node", item.node},
      {"key", item.key},
      {"ok", outcome.ok()},
      {"latency_ms", static_cast<double>(outcome.latency.count()) / 1000.0},
      {"tokens", outcome.tokens},
      {"attempts", outcome.attempts},
      {"ran_on", outcome.ran_on.empty() ? std::string("here") : outcome.ran_on.str()}};
  if (outcome.ok()) {
    std::string text = to_json(std::get<0>(outcome.result));
    if (text.size() > preview_chars) {
      text.resize(preview_chars);
      text += "…";
    }
    out["value"] = std::move(text);
  } else {
    out["error"] = error_json(std::get<1>(outcome.result));
  }
  return out;
}

nlohmann::json interrupt_json(const Interrupt& interrupt) {
  return {{"id", interrupt.id},
          {"status", std::string(to_string(interrupt.status))},
          {"node", interrupt.node},
          {"item", interrupt.item ? nlohmann::json(*interrupt.item) : nlohmann::json()},
          {"question", value_json(interrupt.question)},
          {"answer", value_json(interrupt.answer)}};
}

} // namespace

ApiError api_error(const Error& error) {
  if (error.code == Errc::bad_input && error.message.rfind("no run '", 0) == 0)
    return {404, error.message};
  if (error.code == Errc::unavailable)
    return {503, error.to_string()};
  return {500, error.to_string()};
}

ApiResult<nlohmann::json> runs_json(CheckpointStore& store, const std::string& status) {
  if (!status.empty()) {
    bool known = false;
    for (RunStatus s : all_statuses)
      known = known || to_string(s) == status;
    if (!known)
      return ApiError{400, "unknown status '" + status +
                               "' (running, succeeded, failed, cancelled, interrupted)"};
  }
  Result<std::vector<RunRecord>> runs = store.list_runs();
  if (!runs)
    return api_error(runs.error());
  nlohmann::json counts = nlohmann::json::object();
  for (RunStatus s : all_statuses)
    counts[std::string(to_string(s))] = 0;
  nlohmann::json listed = nlohmann::json::array();
  for (const RunRecord& run : *runs) {
    const std::string name(to_string(run.status));
    counts[name] = counts[name].get<std::uint64_t>() + 1;
    if (status.empty() || name == status)
      listed.push_back(run_record_json(run));
  }
  return nlohmann::json{{"runs", std::move(listed)}, {"counts", std::move(counts)}};
}

ApiResult<nlohmann::json> run_json(CheckpointStore& store, const std::string& run_id,
                                   const std::string& trace_dir) {
  Result<CheckpointStore::Resumable> loaded = store.load_run(run_id);
  if (!loaded)
    return api_error(loaded.error());
  Result<std::string> graph = store.load_graph(run_id);
  if (!graph)
    return api_error(graph.error());
  Result<std::vector<Interrupt>> interrupts = store.load_interrupts(run_id);
  if (!interrupts)
    return api_error(interrupts.error());
  nlohmann::json out = {{"run", run_record_json(loaded->record)},
                        {"graph", nullptr},
                        {"interrupts", nlohmann::json::array()},
                        {"has_trace", trace_path(trace_dir, run_id).has_value()}};
  if (!graph->empty())
    out["graph"] = nlohmann::json::parse(*graph, nullptr, false);
  if (out["graph"].is_discarded())
    out["graph"] = nullptr;
  for (const Interrupt& interrupt : *interrupts)
    out["interrupts"].push_back(interrupt_json(interrupt));
  return out;
}

ApiResult<nlohmann::json> items_json(CheckpointStore& store, const std::string& run_id,
                                     const ItemQuery& query) {
  Result<ItemPage> page = store.list_items(run_id, query);
  if (!page)
    return api_error(page.error());
  nlohmann::json out = {{"total", page->total},
                        {"offset", query.offset},
                        {"limit", query.limit},
                        {"nodes", nlohmann::json::array()},
                        {"items", nlohmann::json::array()}};
  for (const ItemPage::NodeCount& node : page->nodes)
    out["nodes"].push_back({{"node", node.node}, {"done", node.done}, {"failed", node.failed}});
  for (const ItemRecord& item : page->items)
    out["items"].push_back(item_json(item));
  return out;
}

ApiResult<nlohmann::json> state_json(CheckpointStore& store, const std::string& run_id) {
  Result<CheckpointStore::Resumable> loaded = store.load_run(run_id);
  if (!loaded)
    return api_error(loaded.error());
  if (loaded->last_step)
    return nlohmann::json{{"state", value_json(loaded->last_step->state.to_value())},
                          {"of", "step " + std::to_string(loaded->last_step->step)}};
  return nlohmann::json{{"state", value_json(loaded->initial.to_value())}, {"of", "initial"}};
}

std::optional<std::string> trace_path(const std::string& trace_dir, const std::string& run_id) {
  // The runtime's own rule: an id that would lead to another file has no trace.
  std::optional<std::string> path = run_trace_path(trace_dir, run_id);
  if (!path || !std::ifstream(*path).good())
    return std::nullopt;
  return path;
}

ApiResult<nlohmann::json> trace_json(const std::string& trace_dir, const std::string& run_id) {
  const std::optional<std::string> path = trace_path(trace_dir, run_id);
  if (!path)
    return ApiError{404, trace_dir.empty() ? "no trace folder (start the tool with --traces DIR)"
                                           : "no trace of run '" + run_id + "' in " + trace_dir};
  // Parsed whole into a tree: a cap keeps one request from taking gigabytes (a trace of a
  // 100,000-item batch is some 50 MB on disk, several times that parsed).
  constexpr std::uintmax_t max_trace_bytes = 64u << 20;
  std::error_code size_error;
  if (const auto size = std::filesystem::file_size(*path, size_error);
      !size_error && size > max_trace_bytes)
    return ApiError{413, *path + ": " + std::to_string(size >> 20) +
                             " MB is past the viewer's 64 MB for a trace (open it in Perfetto)"};
  std::ifstream file(*path);
  const nlohmann::json trace = nlohmann::json::parse(file, nullptr, false);
  if (trace.is_discarded() || !trace.is_object() || !trace.contains("traceEvents") ||
      !trace["traceEvents"].is_array())
    return ApiError{500, *path + ": not a Chrome trace (no traceEvents array)"};
  nlohmann::json spans = nlohmann::json::array();
  nlohmann::json rows = nlohmann::json::object();
  bool truncated = false;
  for (const nlohmann::json& event : trace["traceEvents"]) {
    if (!event.is_object())
      continue;
    const std::string phase = event.value("ph", "");
    const std::string row = std::to_string(event.value("tid", 0));
    if (phase == "M" && event.value("name", "") == "thread_name") {
      rows[row] = event.contains("args") ? event["args"].value("name", row) : row;
      continue;
    }
    if (phase != "X")
      continue;
    if (spans.size() >= max_spans) {
      truncated = true;
      continue;
    }
    nlohmann::json span = {{"name", event.value("name", "")},
                           {"kind", event.value("cat", "")},
                           {"row", row},
                           {"start_us", event.value("ts", 0.0)},
                           {"dur_us", event.value("dur", 0.0)}};
    if (event.contains("args") && event["args"].is_object()) {
      const nlohmann::json& args = event["args"];
      for (const char* field : {"item", "attempt", "error"})
        if (args.contains(field))
          span[field] = args[field];
    }
    spans.push_back(std::move(span));
  }
  return nlohmann::json{
      {"spans", std::move(spans)}, {"rows", std::move(rows)}, {"truncated", truncated}};
}

} // namespace actorflow::tools
