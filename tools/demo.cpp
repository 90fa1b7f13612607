// The demo flow: statistics over a folder of text files, with a branch, a cycle and a nested
// flow. Everything it prints is computed from the files; nothing is canned.
//
//   scan -> pick -[file]-> analyse (nested: read -[text]-> measure | -[skip]-> skipped)
//            ^                 |
//            +---- advance <---+
//           pick -[done]-> report -[large]-> verdict_large
//                                 -[small]-> verdict_small

#include "demo.hpp"

#include <actorflow/actorflow.hpp>
#include <actorflow/local_model.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

namespace actorflow::tools {

namespace {

namespace fs = std::filesystem;

// scan: lists the regular files of the folder, sorted, up to max_files.
class Scan : public Node {
public:
  explicit Scan(std::size_t max_files) : max_files_(max_files) {}
  Value prep(const State& state) override { return state.at("dir"); }
  Task<Value> exec(Value dir, Context&) override {
    std::error_code ec;
    fs::directory_iterator it{dir.as_string(), ec};
    if (ec)
      throw Failure(
          Error{Errc::bad_input, "cannot list '" + dir.as_string() + "': " + ec.message()});
    std::vector<std::string> paths;
    for (const auto& entry : it)
      if (entry.is_regular_file(ec))
        paths.push_back(entry.path().string());
    std::sort(paths.begin(), paths.end());
    if (paths.size() > max_files_)
      paths.resize(max_files_);
    Array files;
    for (auto& p : paths)
      files.emplace_back(std::move(p));
    co_return files;
  }
  std::string post(State& state, const Value&, const Value& files) override {
    state = state.with({{"files", files}, {"cursor", 0}, {"stats", Array{}}, {"skipped", Array{}}});
    return files.size() == 0 ? "empty" : "next";
  }

private:
  std::size_t max_files_;
};

// pick: the file at the cursor, or "done".
std::string pick(State& state) {
  auto cursor = static_cast<std::size_t>(state.at("cursor").as_int());
  const auto& files = state.at("files").as_array();
  if (cursor >= files.size())
    return "done";
  state = state.with("current", files[cursor]);
  return "file";
}

// read: loads the current file; binary files (a NUL byte) are skipped.
class Read : public Node {
public:
  Value prep(const State& state) override { return state.at("current"); }
  Task<Value> exec(Value path, Context&) override {
    std::ifstream in{path.as_string(), std::ios::binary};
    if (!in)
      throw Failure(Error{Errc::bad_input, "cannot open '" + path.as_string() + "'"});
    std::ostringstream text;
    text << in.rdbuf();
    co_return text.str();
  }
  std::string post(State& state, const Value&, const Value& text) override {
    if (text.as_string().find('\0') != std::string::npos)
      return "skip";
    state = state.with("text", text);
    return "text";
  }
};

// A byte of a word as the local model reads text (local_model.hpp): an ASCII letter or digit,
// or any non-ASCII byte; the same on every locale.
bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

// measure: lines, words, sentences (as the runtime's split_sentences cuts them) and the most
// frequent terms of the current text.
class Measure : public Node {
public:
  Value prep(const State& state) override {
    return Value::object({{"path", state.at("current")}, {"text", state.at("text")}});
  }
  Task<Value> exec(Value input, Context&) override {
    const auto& text = input.at("text").as_string();
    auto lines = static_cast<std::int64_t>(std::count(text.begin(), text.end(), '\n'));
    auto sentences = static_cast<std::int64_t>(split_sentences(text).size());
    std::int64_t words = 0;
    std::map<std::string, std::int64_t> counts;
    std::string word;
    auto flush = [&] {
      if (word.empty())
        return;
      ++words;
      bool number =
          std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (word.size() > 2 && !number && !is_stop_word(word))
        ++counts[word];
      word.clear();
    };
    for (char c : text) {
      if (is_word_byte(static_cast<unsigned char>(c)))
        word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
      else
        flush();
    }
    flush();
    std::vector<std::pair<std::string, std::int64_t>> ranked(counts.begin(), counts.end());
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    Array top;
    for (std::size_t i = 0; i < std::min<std::size_t>(3, ranked.size()); ++i)
      top.emplace_back(ranked[i].first);
    co_return Value::object({{"file", fs::path(input.at("path").as_string()).filename().string()},
                             {"lines", lines},
                             {"words", words},
                             {"sentences", sentences},
                             {"top", top}});
  }
  std::string post(State& state, const Value&, const Value& stats) override {
    auto all = state.at("stats").as_array();
    all.push_back(stats);
    state = state.with("stats", std::move(all)).without("text");
    return std::string(default_action);
  }
};

std::string skipped(State& state) {
  auto all = state.at("skipped").as_array();
  all.push_back(state.at("current"));
  state = state.with("skipped", std::move(all));
  return std::string(default_action);
}

std::string advance(State& state) {
  state = state.with("cursor", state.at("cursor").as_int() + 1);
  return std::string(default_action);
}

// report: totals over every file; branches on the size of the corpus.
std::string report(State& state) {
  std::int64_t lines = 0, words = 0, sentences = 0;
  for (const auto& s : state.at("stats").as_array()) {
    lines += s.at("lines").as_int();
    words += s.at("words").as_int();
    sentences += s.at("sentences").as_int();
  }
  state = state.with("totals", Value::object({{"files", state.at("stats").size()},
                                              {"lines", lines},
                                              {"words", words},
                                              {"sentences", sentences}}));
  return words >= 20'000 ? "large" : "small";
}

Result<Flow> demo_flow(std::size_t max_files) {
  auto analyse = FlowBuilder("analyse-file")
                     .node<Read>("read")
                     .node<Measure>("measure")
                     .node("skipped", step_node(skipped))
                     .edge("read", "measure", "text")
                     .edge("read", "skipped", "skip")
                     .build();
  if (!analyse)
    return analyse.error();
  auto verdict = [](const char* text) {
    return step_node([text](State& state) {
      state = state.with("verdict", text);
      return std::string(default_action);
    });
  };
  return FlowBuilder("corpus-stats")
      .node<Scan>("scan", max_files)
      .node("pick", step_node(pick))
      .node("analyse", *analyse)
      .node("advance", step_node(advance))
      .node("report", step_node(report))
      .node("verdict_large", verdict("a large corpus (20,000 words or more)"))
      .node("verdict_small", verdict("a small corpus (under 20,000 words)"))
      .edge("scan", "pick", "next")
      .edge("scan", "report", "empty")
      .edge("pick", "analyse", "file")
      .edge("pick", "report", "done")
      .edge("analyse", "advance")
      .edge("advance", "pick")
      .edge("report", "verdict_large", "large")
      .edge("report", "verdict_small", "small")
      .max_steps(10 * max_files + 10)
      .build();
}

void print_table(const RunResult& result, double wall_ms) {
  const auto& state = result.state;
  std::printf("%-28s %8s %8s %10s  %s\n", "file", "lines", "words", "sentences", "top terms");
  for (const auto& s : state.at("stats").as_array()) {
    std::string top;
    for (const auto& t : s.at("top").as_array())
      top += (top.empty() ? "" : ", ") + t.as_string();
    std::printf("%-28.28s %8lld %8lld %10lld  %s\n", s.at("file").as_string().c_str(),
                static_cast<long long>(s.at("lines").as_int()),
                static_cast<long long>(s.at("words").as_int()),
                static_cast<long long>(s.at("sentences").as_int()), top.c_str());
  }
  const auto& totals = state.at("totals");
  std::printf("%-28s %8lld %8lld %10lld\n", "total",
              static_cast<long long>(totals.at("lines").as_int()),
              static_cast<long long>(totals.at("words").as_int()),
              static_cast<long long>(totals.at("sentences").as_int()));
  std::printf("\n%lld files analysed, %zu skipped (binary); verdict: %s\n",
              static_cast<long long>(totals.at("files").as_int()),
              state.at("skipped").size(), state.at("verdict").as_string().c_str());
  std::printf("%zu node runs, each in its own actor, in %.1f ms\n", result.path.size(), wall_ms);
  for (const auto& w : result.warnings)
    std::printf("warning: %s\n", w.c_str());
}

} // namespace

int run_demo(const DemoOptions& options) {
  auto flow = demo_flow(options.max_files);
  if (!flow) {
    std::cerr << "actorflow demo: " << flow.error().to_string() << "\n";
    return 1;
  }
  Runtime runtime{RuntimeConfig{.worker_threads = options.workers}};
  auto t0 = std::chrono::steady_clock::now();
  auto result = runtime.run(*flow, State{}.with("dir", options.dir)).get();
  auto wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!result) {
    std::cerr << "actorflow demo: " << result.error().to_string() << "\n";
    return 1;
  }
  if (options.json) {
    auto out = result->state.without("files").without("current").to_value();
    out.as_map()["wall_ms"] = wall_ms;
    out.as_map()["node_runs"] = result->path.size();
    std::cout << to_json(out, 2) << "\n";
  } else {
    std::printf("actorflow demo: text statistics over %s (offline; no model involved)\n\n",
                options.dir.c_str());
    print_table(*result, wall_ms);
  }
  return 0;
}

} // namespace actorflow::tools
