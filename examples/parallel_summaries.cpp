// Summarise every paragraph of a folder of text files with a parallel batch node (window 32):
// one item actor per paragraph, each asking the model through ctx.llm(), summaries joined in
// input order by the reducer (post_batch).
//
// Offline by default: the embedded `local` provider answers with an extractive summary (the
// paragraph's most central sentences), not a model's. With OPENAI_BASE_URL set (and
// OPENAI_API_KEY, OPENAI_MODEL as needed) it asks that OpenAI-compatible server instead, e.g.
// `actorflow sim`. Run: build/release/examples/parallel_summaries [folder]
#include <actorflow/actorflow.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
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

class Summarise : public ParallelBatchNode {
public:
  Summarise() : ParallelBatchNode(BatchOptions{.max_concurrency = 32}) {}
  Value prep(const State& state) override { return state.at("texts"); }
  Task<Value> exec(Value text, Context& ctx) override {
    ChatRequest request = ChatRequest::user("Summarize in one sentence: " + text.as_string());
    request.max_tokens = 150;
    auto reply = co_await ctx.llm().chat(std::move(request));
    co_return reply.value().text; // a failed call fails this item only; the batch collects it
  }
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
  // A server's 429 (rate limited, with Retry-After) or 5xx is retried; the wait the server asks
  // for wins over the backoff. (A resource controller that avoids the 429s is the next step.)
  auto flow = FlowBuilder("summaries")
                  .node<Summarise>("summarise")
                  .retry("summarise", RetryPolicy{.max_attempts = 8})
                  .build();
  if (!flow)
    return 1;
  RuntimeConfig config;
  if (std::getenv("OPENAI_BASE_URL")) {
    auto openai = OpenAiConfig::from_env();
    if (!openai) {
      std::cerr << openai.error().to_string() << "\n";
      return 1;
    }
    config.models.add("openai", make_openai_provider(*openai));
  }
  Runtime runtime{std::move(config)};
  std::cout << "provider: " << runtime.models().default_name() << "\n";
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
