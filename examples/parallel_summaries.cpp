// Summarise every paragraph (blank-line separated, 200+ characters) of a folder of text files
// with a parallel batch node (window 32): one item actor per paragraph, each asking the model
// through ctx.llm(), summaries joined in input order by the reducer (post_batch).
//
// Offline by default: the embedded `local` provider answers with an extractive summary (the
// paragraph's most central sentences), not a model's. With OPENAI_BASE_URL set (and
// OPENAI_API_KEY, OPENAI_MODEL as needed) it asks that OpenAI-compatible server instead, e.g.
// `actorflow sim`. Run: build/release/examples/parallel_summaries [folder] [--trace FILE]
// [--report]; --help lists every option.
#include <actorflow/actorflow.hpp>
#include <actorflow/ingest.hpp>
#include <actorflow/openai.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <sstream>

using namespace actorflow;

namespace {

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
      digest << "- "
             << (item.ok() ? item.value().as_string() : "(failed: " + item.error().message + ")")
             << "\n";
    state = state.with({{"digest", digest.str()},
                        {"summarised", result.summary.succeeded},
                        {"failed", result.summary.failed}});
    return std::string(default_action);
  }
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Summarise every paragraph of a folder of text files with a parallel batch node"};
  std::string dir = "/usr/share/common-licenses";
  examples::Watching watch;
  bool graph = false;
  app.add_option("folder", dir, "The text files")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  watch.add_options(app);
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  // A server's 429 (rate limited, with Retry-After) or 5xx is retried; the wait the server asks
  // for wins over the backoff.
  auto flow = FlowBuilder("summaries")
                  .node<Summarise>("summarise")
                  .retry("summarise", RetryPolicy{.max_attempts = 8})
                  .build();
  if (!flow)
    return 1;
  if (examples::graph_printed(graph, *flow))
    return 0;

  // The reader's defaults: .txt, .md and files without an extension (GPL-3, Apache-2.0), in
  // subfolders too; files that are not UTF-8 text are skipped.
  auto read = read_directory(dir);
  if (!read) {
    std::cerr << read.error().to_string() << "\n";
    return 1;
  }
  for (const auto& skipped : read->skipped)
    std::cerr << "skipped " << skipped.path << ": " << skipped.reason << "\n";
  Array texts;
  for (const auto& document : read->documents)
    examples::add_paragraphs(document.text, texts);

  auto config = examples::runtime_config_or_exit(watch.trace);
  // The resource controller paces the calls to "openai" so that the server has no cause for a
  // 429: 500 requests per minute, OpenAI's limit for most chat models on its first paid tier
  // (use your account's). The local provider needs no limit.
  config.limits["openai"] = Limits{.requests_per_minute = 500};
  Runtime runtime{std::move(config)};
  std::cout << "provider: " << runtime.models().default_name() << "\n";
  auto options = watch.run_options();
  auto result = runtime.run(*flow, State{}.with("texts", texts), std::move(options)).get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  const auto& digest = result->state.at("digest").as_string();
  std::cout << digest.substr(0, 1200) << (digest.size() > 1200 ? "...\n" : "");
  auto done = result->state.at("summarised").as_int();
  std::cout << done << " of " << texts.size() << " paragraphs summarised in parallel, "
            << result->state.at("failed").as_int() << " failed\n";
  if (!watch.finish(result))
    return 1;
  return done == static_cast<std::int64_t>(texts.size()) && done > 0 ? 0 : 1;
}
