// Summarise every file of a folder with a parallel batch flow (PocketFlow's ParallelBatchFlow):
// one sub-flow per file, `load` then `summarise`, each sub-run in its own actors, at most
// --concurrency at once; a file that cannot be read fails its own item and no other.
//
// Offline by default: the embedded `local` provider answers with an extractive summary (the
// text's most central sentences), not a model's. With OPENAI_BASE_URL set it asks that
// OpenAI-compatible server instead. Run: build/release/examples/summarize_files [--dir DIR]
// [--max-files N] [--concurrency N] [--trace FILE] [--report]; --help lists every option.
#include <actorflow/actorflow.hpp>
#include <actorflow/ingest.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <sstream>
#include <system_error>

using namespace actorflow;
namespace fs = std::filesystem;

namespace {

// Beyond this, a file's text is cut before it is sent: the summary of a long file's opening
// says what the file is, and the prompt stays within a small model's context window.
constexpr std::size_t max_prompt_chars = 12'000;

// Throws, so that the item fails with a message naming the file; the batch collects it.
class Load : public Node {
public:
  Value prep(const State& state) override { return state.at("path"); }
  Task<Value> exec(Value path, Context&) override {
    // The ingestion reader's rules: a missing, unreadable, binary or non-UTF-8 file is an
    // error naming the path and why.
    auto document = read_text_file(path.as_string());
    if (!document)
      throw Failure(document.error());
    co_return std::move(document->text);
  }
  std::string post(State& state, const Value&, const Value& text) override {
    state = state.with({{"bytes", text.as_string().size()}, {"text", text}});
    return std::string(default_action);
  }
};

class Summarise : public Node {
public:
  Value prep(const State& state) override { return state.at("text"); }
  Task<Value> exec(Value text, Context& ctx) override {
    std::string prompt = "Summarize in two sentences: ";
    prompt.append(text.as_string(), 0, max_prompt_chars);
    auto request = ChatRequest::user(std::move(prompt));
    request.max_tokens = 200;
    auto reply = co_await ctx.llm().chat(std::move(request));
    co_return std::move(reply).value().text; // a failed call fails this file's item only
  }
  std::string post(State& state, const Value&, const Value& summary) override {
    // The text has served its purpose; the reducer gets every final state, so keep it small.
    state = state.without("text").with("summary", summary);
    return std::string(default_action);
  }
};

// One line per file in input order: its summary, or why it has none.
State report_files(const State& state, const std::vector<ItemOutcome>& outcomes) {
  const auto& files = state.at("files").as_array();
  Array lines;
  std::int64_t summarised = 0, bytes = 0;
  for (const auto& outcome : outcomes) {
    const auto& name = files.at(outcome.index).at("name").as_string();
    std::ostringstream line;
    line << std::left << std::setw(12) << name;
    if (!outcome.ok()) {
      line << "  FAILED: " << outcome.error().to_string();
      lines.emplace_back(line.str());
      continue;
    }
    const auto& done = outcome.value();
    line << std::right << std::setw(7) << done.at("bytes").as_int() << " B  "
         << examples::one_line(done.at("summary").as_string(), 100);
    lines.emplace_back(line.str());
    ++summarised;
    bytes += done.at("bytes").as_int();
  }
  return state.with({{"lines", std::move(lines)}, {"summarised", summarised}, {"bytes", bytes}});
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Summarise each file of a folder with a parallel batch flow (load -> summarise)"};
  std::string dir = "/usr/share/common-licenses";
  std::size_t max_files = 0, concurrency = 8;
  examples::Watching watch;
  bool graph = false;
  app.add_option("--dir", dir, "The folder")->check(CLI::ExistingDirectory)->capture_default_str();
  app.add_option("--max-files", max_files, "Files to summarise at most, by name (0: all)");
  app.add_option("--concurrency", concurrency, "Files in flight at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  watch.add_options(app);
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  // Every entry but subfolders: a broken symlink or an unreadable file is listed on purpose,
  // to fail at `load`, in its own item.
  std::vector<fs::path> paths;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (!entry.is_directory())
      paths.push_back(entry.path());
  if (ec) {
    std::cerr << "cannot list " << dir << ": " << ec.message() << "\n";
    return 1;
  }
  std::sort(paths.begin(), paths.end());
  if (max_files > 0 && paths.size() > max_files)
    paths.resize(max_files);
  Array files;
  for (const auto& path : paths)
    files.push_back(Value::object({{"path", path.string()}, {"name", path.filename().string()}}));

  auto file_flow = FlowBuilder("file")
                       .node<Load>("load")
                       .node<Summarise>("summarise")
                       .edge("load", "summarise")
                       .build();
  if (!file_flow) {
    std::cerr << file_flow.error().to_string() << "\n";
    return 1;
  }
  // The params are the files themselves: each sub-run starts from a copy of the state with
  // that file's "path" and "name" set.
  auto flow = FlowBuilder("summarize_files")
                  .node("files", parallel_batch_flow(
                                     *file_flow, [](const State& s) { return s.at("files"); },
                                     report_files, BatchOptions{.max_concurrency = concurrency}))
                  .build();
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  if (examples::graph_printed(graph, *flow))
    return 0;

  Runtime runtime{examples::runtime_config_or_exit(watch.trace)};
  const bool local = runtime.models().default_name() == "local";
  std::cout << "provider: " << runtime.models().default_name()
            << (local ? " (offline; no LLM: a summary is the text's most central sentences)" : "")
            << "\n";

  auto options = watch.run_options();
  auto result = runtime.run(*flow, State{}.with("files", files), std::move(options)).get();
  if (!result) {
    std::cerr << "run failed: " << result.error().to_string() << "\n";
    return 1;
  }
  for (const auto& line : result->state.at("lines").as_array())
    std::cout << line.as_string() << "\n";
  auto summarised = result->state.at("summarised").as_int();
  auto failed = static_cast<std::int64_t>(files.size()) - summarised;
  std::cout << "total: " << files.size() << " files from " << dir << ", " << summarised
            << " summarised (" << result->state.at("bytes").as_int() << " bytes), " << failed
            << " failed, " << result->usage.calls << " model calls, "
            << result->usage.total_tokens() << " tokens, concurrency " << concurrency << "\n";
  if (!watch.finish(result))
    return 1;
  return summarised > 0 ? 0 : 1;
}
