// Summarise every paragraph of a folder of text files with a parallel batch node (window 32):
// one item actor per paragraph, summaries joined in input order by the reducer (post_batch).
// Offline: the "summary" is extractive (the sentence whose words are most frequent in its
// paragraph), not a model's. Run: build/release/examples/parallel_summaries [folder]
#include <actorflow/actorflow.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

using namespace actorflow;

namespace {

// Paragraphs (blank-line separated, 200+ characters) of every regular file in `dir`.
Array paragraphs(const std::string& dir) {
  Array out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file())
      continue;
    std::ifstream in{entry.path()};
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
  return out;
}

// The sentence with the highest mean frequency of its words within the paragraph.
std::string extractive_summary(const std::string& text) {
  std::vector<std::string> sentences;
  std::string current;
  for (char c : text) {
    current += c;
    if (c == '.' || c == '?' || c == '!') {
      sentences.push_back(current);
      current.clear();
    }
  }
  if (current.size() > 1)
    sentences.push_back(current);
  auto words = [](const std::string& s) {
    std::vector<std::string> ws;
    std::string w;
    for (char c : s + " ") {
      if (std::isalpha(static_cast<unsigned char>(c)))
        w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      else if (!w.empty())
        ws.push_back(std::exchange(w, {}));
    }
    return ws;
  };
  std::map<std::string, int> freq;
  for (const auto& w : words(text))
    if (w.size() > 3)
      ++freq[w];
  std::string best;
  double best_score = -1;
  for (const auto& s : sentences) {
    auto ws = words(s);
    if (ws.size() < 4)
      continue;
    double score = 0;
    for (const auto& w : ws)
      score += freq.count(w) ? freq[w] : 0;
    score /= static_cast<double>(ws.size());
    if (score > best_score) {
      best_score = score;
      best = s;
    }
  }
  auto start = best.find_first_not_of(' ');
  return start == std::string::npos ? text.substr(0, 80) : best.substr(start);
}

class Summarise : public ParallelBatchNode {
public:
  Summarise() : ParallelBatchNode(BatchOptions{.max_concurrency = 32}) {}
  Value prep(const State& state) override { return state.at("texts"); }
  Task<Value> exec(Value text, Context&) override { co_return extractive_summary(text.as_string()); }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    std::ostringstream digest;
    for (const auto& item : result.items)
      digest << "- " << (item.ok() ? item.value().as_string() : "(failed: " + item.error().message + ")")
             << "\n";
    state = state.with({{"digest", digest.str()},
                        {"summarised", result.summary.succeeded},
                        {"failed", result.summary.failed}});
    return std::string(default_action);
  }
};

} // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/usr/share/common-licenses";
  auto texts = paragraphs(dir);
  auto flow = FlowBuilder("summaries").node<Summarise>("summarise").build();
  if (!flow)
    return 1;
  Runtime runtime;
  auto result = runtime.run(*flow, State{}.with("texts", texts)).get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  const auto& digest = result->state.at("digest").as_string();
  std::cout << digest.substr(0, 1200) << (digest.size() > 1200 ? "...\n" : "");
  auto done = result->state.at("summarised").as_int();
  std::cout << done << " of " << texts.size() << " paragraphs summarised in parallel, "
            << result->state.at("failed").as_int() << " failed\n";
  return done == static_cast<std::int64_t>(texts.size()) && done > 0 ? 0 : 1;
}
