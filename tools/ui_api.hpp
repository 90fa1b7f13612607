#pragma once
// What `actorflow ui`'s page reads: a checkpoint store (and a folder of trace files) as the
// JSON of its /api/ endpoints. Read-only; each function is one endpoint's body, and an error
// says what to answer (ApiError: an HTTP status and a message the page shows as it is).

#include <actorflow/checkpoint.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <variant>

namespace actorflow::tools {

/// An answer that is not the JSON asked for: 400 (a bad parameter), 404 (no such run or
/// trace), 500 (the store failed), 503 (the store or Graphviz is unavailable).
struct ApiError {
  int status = 500;
  std::string message;
};
template <class T>
using ApiResult = std::variant<T, ApiError>;

/// An error of the store as an answer: "no run '<id>' ..." is 404, unavailable 503, else 500.
[[nodiscard]] ApiError api_error(const Error& error);

/// GET /api/runs[?status=S]: {"runs": [run...], "counts": {status: n}}, newest first; `status`
/// ("" all) must be a RunStatus's name (else 400).
[[nodiscard]] ApiResult<nlohmann::json> runs_json(CheckpointStore& store,
                                                  const std::string& status);

/// GET /api/run?id=R: {"run": run, "graph": the recorded graph or null, "interrupts": [...],
/// "has_trace": bool}.
[[nodiscard]] ApiResult<nlohmann::json> run_json(CheckpointStore& store, const std::string& run_id,
                                                 const std::string& trace_dir);

/// GET /api/items?id=R[&node=N][&failed=1][&offset=O][&limit=L]: a page of the run's items
/// ({"total", "offset", "limit", "nodes": [{node, done, failed}], "items": [...]}), each item's
/// value cut to a preview (the State tree shows whole values).
[[nodiscard]] ApiResult<nlohmann::json>
items_json(CheckpointStore& store, const std::string& run_id, const ItemQuery& query);

/// GET /api/state?id=R: {"state": the State after the last committed step (or the initial
/// State before the first), "of": "step N" | "initial"}.
[[nodiscard]] ApiResult<nlohmann::json> state_json(CheckpointStore& store,
                                                   const std::string& run_id);

/// GET /api/trace?id=R: the run's spans from `<trace_dir>/<run_id>.json` ({"spans": [{name,
/// kind, row, start_us, dur_us, item, attempt, error}], "rows": {row: name}, "truncated":
/// bool}); 404 when there is no such file or no folder was given.
[[nodiscard]] ApiResult<nlohmann::json> trace_json(const std::string& trace_dir,
                                                   const std::string& run_id);

/// The run's trace file, or none: no folder, a run id that is no file name, no file.
[[nodiscard]] std::optional<std::string> trace_path(const std::string& trace_dir,
                                                    const std::string& run_id);

} // namespace actorflow::tools
