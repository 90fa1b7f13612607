// Eight summaries written at once, printed live: a parallel batch node asks the model for one
// summary per document, and the host reads the run's event stream (`RunHandle::events`) and
// prints each piece of text as it arrives, labelled by the item it belongs to. The offline
// `local` provider streams its answers a word at a time here (`stream_interval`), as a real
// model does; with OPENAI_BASE_URL set, the same code streams from that server.
//
// Exit code 1 unless every item's streamed pieces add up to its final summary.
// Run: build/release/examples/stream_tokens [--items N] [--interval-ms MS] [--graph]
#include "example_support.hpp"

#include <iostream>
#include <map>

using namespace actorflow;

namespace {

const char* const topics[] = {"actors",   "rate limits", "retries", "checkpoints",
                              "batching", "streaming",   "tools",   "interrupts"};

class Summaries final : public ParallelBatchNode {
public:
  Summaries() : ParallelBatchNode(BatchOptions{.max_concurrency = 8}) {}
  Value prep(const State& state) override { return state.at("documents"); }
  Task<Value> exec(Value document, Context& ctx) override {
    auto answer = co_await ctx.llm().chat("Summarise in two sentences: " + document.as_string());
    if (!answer)
      throw Failure(answer.error());
    co_return answer->text;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array summaries;
    for (auto& outcome : result.items)
      summaries.push_back(outcome.ok() ? outcome.value() : Value(outcome.error().to_string()));
    state = state.with("summaries", Value(std::move(summaries)));
    return std::string(default_action);
  }
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Eight parallel summaries, their text printed live as it streams."};
  std::size_t count = 8;
  int interval_ms = 15;
  bool graph = false;
  app.add_option("--items", count, "Documents to summarise")->check(CLI::Range(1, 64));
  app.add_option("--interval-ms", interval_ms, "The local model's pace: ms per word")
      ->check(CLI::Range(0, 1000));
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  auto flow = FlowBuilder("stream_tokens").node<Summaries>("summarise").build().value();
  if (examples::graph_printed(graph, flow))
    return 0;

  auto config = examples::runtime_config_or_exit("");
  config.models.add(
      "local", make_local_provider({.stream_interval = std::chrono::milliseconds(interval_ms)}));
  Runtime runtime{std::move(config)};
  Array documents;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string topic = topics[i % std::size(topics)];
    std::string text = "Notes on " + topic + ", part " + std::to_string(i / std::size(topics) + 1);
    text.append(". The team wrote down what ").append(topic).append(" changed in the runtime");
    text.append(". Every change to ").append(topic).append(" was measured against a baseline");
    text.append(". The open questions about ").append(topic).append(" go to the next review.");
    documents.emplace_back(std::move(text));
  }
  auto run = runtime.run(flow, State{}.with("documents", Value(std::move(documents))),
                         {.stream = StreamMode::tokens | StreamMode::items});

  // The host's loop: each event as it comes (pieces the loop was too slow for arrive merged).
  // A document's text is printed a line at a time, as soon as it has a line's worth, and the
  // rest when its item finishes: the eight documents' lines interleave as they are written.
  std::map<std::size_t, std::string> streamed;
  std::map<std::size_t, std::string> line;
  auto print = [&](std::size_t item) {
    std::cout << "[doc " << item << "]" << line[item] << "\n";
    line[item].clear();
  };
  auto events = run.events();
  while (auto event = events.next()) {
    const auto item = event->item.value_or(0);
    if (auto* piece = std::get_if<TokenPiece>(&event->body)) {
      streamed[item] += piece->text;
      line[item] += piece->text;
      if (line[item].size() >= 48)
        print(item);
    } else if (std::holds_alternative<ItemFinished>(event->body) && !line[item].empty()) {
      print(item);
    }
  }
  auto result = run.get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  const auto& summaries = result->state.at("summaries").as_array();
  std::cout << "\n"
            << summaries.size() << " summaries, streamed in " << events.stats().queued
            << " events (" << events.stats().merged
            << " pieces merged while the reader was busy)\n";
  bool whole = streamed.size() == summaries.size();
  for (std::size_t i = 0; i < summaries.size(); ++i)
    whole = whole && streamed[i] == summaries[i].as_string();
  if (!whole)
    std::cerr << "the streamed pieces do not add up to the summaries\n";
  return whole ? 0 : 1;
}
