// What every example does the same way, so that each example's file shows only what it is
// about: parsing the command line, configuring the runtime from the environment with an
// optional trace file, checking at the end that the trace was written, cutting an answer to
// one line for a table, and --graph (print the flow instead of running it). An example's own
// options, flow, nodes and output stay in its file.
//
// The *_or_exit functions end the program (std::exit) on an error: call them before a Runtime
// exists or anything else needs cleaning up, as the examples do. trace_written comes after the
// run, so it returns instead, for main to return with the Runtime shut down properly.
#pragma once

#include <actorflow/actorflow.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>

namespace examples {

// --graph, as every example offers it: print the example's flow (actorflow/graph.hpp) instead
// of running it.
inline void add_graph_flag(CLI::App& app, bool& graph) {
  app.add_flag("--graph", graph,
               "Print the flow as a Mermaid flowchart and exit without running it (paste it into "
               "a ```mermaid block, or https://mermaid.live)");
}

// With --graph (`graph` true): prints `flows` as Mermaid text and returns true, for main to
// return 0 right after; prints nothing and returns false otherwise. One flow is printed as it
// is; several are each preceded by a `%% name` comment line (paste them one at a time).
inline bool graph_printed(bool graph, std::initializer_list<actorflow::Flow> flows) {
  if (!graph)
    return false;
  for (const auto& flow : flows)
    std::cout << (flows.size() > 1 ? "%% " + flow.name() + "\n" : "")
              << actorflow::to_mermaid(flow);
  return true;
}
inline bool graph_printed(bool graph, const actorflow::Flow& flow) {
  return graph_printed(graph, {flow});
}

// Parses the command line into `app`'s options. After --help (printed), exits with code 0;
// after a bad option (its error printed), with code 1 rather than CLI11's own code for it.
inline void parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 1);
  }
}

// The runtime's configuration every example starts from: its models from the environment (the
// embedded `local` provider always; "openai" too when OPENAI_BASE_URL is set, see
// add_openai_from_env) and `trace` as its trace file (empty: none). When the environment's
// setting is unusable (e.g. no key for a remote server), prints why and exits with code 1.
inline actorflow::RuntimeConfig runtime_config_or_exit(const std::string& trace) {
  actorflow::RuntimeConfig config;
  if (auto openai = actorflow::add_openai_from_env(config.models); !openai) {
    std::cerr << openai.error().to_string() << "\n";
    std::exit(1);
  }
  config.trace_file = trace;
  if (!trace.empty()) {
    // A stale file must not pass for this run's trace in trace_written; no file to remove is
    // no error.
    std::error_code ignored;
    std::filesystem::remove(trace, ignored);
  }
  return config;
}

// At the end of an example: prints where the trace is, to open in Perfetto, and returns true;
// when the file is not there (the runtime only logs a failed write), says so and returns false.
// True, printing nothing, when no trace was asked for (`trace` empty).
inline bool trace_written(const std::string& trace) {
  if (trace.empty())
    return true;
  if (!std::filesystem::exists(trace)) {
    std::cerr << "trace: " << trace << " was not written\n";
    return false;
  }
  std::cout << "trace: " << trace << " (open in https://ui.perfetto.dev)\n";
  return true;
}

// `text` on one line (newlines become spaces), cut to `max_chars` bytes or fewer with "..."
// appended when it is longer.
inline std::string one_line(std::string text, std::size_t max_chars) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.size() <= max_chars)
    return text;
  // Back up to a character boundary: a cut inside a UTF-8 sequence prints as garbage.
  auto cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U)
    --cut;
  return text.substr(0, cut).append("...");
}

// The paragraphs of `text` (blank-line separated, lines joined by a space) of 200+ characters:
// shorter ones are headings and notices, not worth a model call.
inline void add_paragraphs(const std::string& text, actorflow::Array& out) {
  std::istringstream in{text};
  std::string line, paragraph;
  auto flush = [&] {
    if (paragraph.size() >= 200)
      out.emplace_back(paragraph);
    paragraph.clear();
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      flush();
    else
      paragraph += (paragraph.empty() ? "" : " ") + line;
  }
  flush();
}

// --trace FILE and --report, as every example with options offers them: declare one, add its
// options, start the Runtime with runtime_config_or_exit(watch.trace), run with
// watch.run_options(), and end with watch.finish(result).
struct Watching {
  std::string trace;
  bool report = false;
  actorflow::ReportCollector collector;

  void add_options(CLI::App& app) {
    app.add_option("--trace", trace, "Write a Chrome trace of the run here (Perfetto)");
    app.add_flag("--report", report, "Print the run's report: nodes, latencies, tokens, waits");
  }
  // `base` with the collector's hooks when a report was asked for (they make the run time its
  // spans, which costs a little: only then).
  [[nodiscard]] actorflow::RunOptions run_options(actorflow::RunOptions base = {}) const {
    return report ? collector.options(std::move(base)) : base;
  }
  // Prints the report if one was asked for; false when a trace was asked for and is missing.
  [[nodiscard]] bool finish(const actorflow::Result<actorflow::RunResult>& result) const {
    if (report)
      std::cout << "\n" << collector.report(result).to_text();
    return trace_written(trace);
  }
};

} // namespace examples
