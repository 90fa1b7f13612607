#pragma once
// `actorflow demo`: the README's main job. Ingests a corpus (title, split, embed), summarises
// every document in a parallel batch, compares sequential with parallel wall time, answers a
// question from the chunks and prints a run report.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace actorflow::tools {

struct DemoOptions {
  /// Folders (read recursively) and files; empty: `default_corpus()`.
  std::vector<std::string> paths{};
  std::size_t workers = 0;      ///< scheduler threads (0: one per core)
  std::size_t max_files = 200;  ///< documents at most, the first by id
  std::size_t concurrency = 16; ///< the parallel runs' window
  std::string query = "May I charge a fee for giving away copies of the program?";
  std::string trace{};              ///< a Chrome trace file of every run; empty: none
  std::uint64_t sim_latency_ms = 0; ///< >0: against an in-process `actorflow sim` this slow
  bool json = false;                ///< one JSON object on stdout instead of tables
};

/// /usr/share/common-licenses and this project's README.md (where the build found it, when it
/// is still there).
[[nodiscard]] std::vector<std::string> default_corpus();

/// Runs the demo and prints what it did; the process exit code (0 only when every document
/// was ingested and summarised in both runs and the question found chunks).
int run_demo(const DemoOptions& options);

} // namespace actorflow::tools
