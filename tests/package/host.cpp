// A host program as a user of an installed actorflow writes it, built out of the tree with
// find_package, pkg-config or add_subdirectory (tests/package/check.sh): it embeds a Runtime,
// runs a flow whose parallel batch node asks the embedded model once per item, and splits a
// text with actorflow::ingest. Exit code 0 only when every answer is what it should be.
#include <actorflow/actorflow.hpp>
#include <actorflow/ingest.hpp>

#include <cstdio>
#include <string>

using namespace actorflow;

namespace {

// One chat call per item: the local model's title for each text.
class Titles : public ParallelBatchNode {
public:
  Titles() : ParallelBatchNode(BatchOptions{.max_concurrency = 4}) {}
  Value prep(const State& state) override { return state.at("texts"); }
  Task<Value> exec(Value text, Context& ctx) override {
    auto reply = co_await ctx.llm().chat("Suggest a title:\n" + text.as_string());
    if (!reply)
      throw Failure(reply.error());
    co_return reply->text;
  }
};

int fail(const std::string& why) {
  std::fprintf(stderr, "host: %s\n", why.c_str());
  return 1;
}

} // namespace

int main() {
  const std::string text = "Actors run flows. Actors keep limits. Flows nest inside flows.";
  auto flow = FlowBuilder("host").node<Titles>("titles").build();
  if (!flow)
    return fail(flow.error().to_string());
  Runtime runtime{RuntimeConfig{.worker_threads = 2}};
  auto run = runtime.run(*flow, State{}.with("texts", Array{text, text, text}));
  auto result = run.get();
  if (!result)
    return fail(result.error().to_string());
  const auto& titles = result->state.at("results").as_array();
  const auto expected = local_chat_reply("Suggest a title:\n" + text);
  if (titles.size() != 3)
    return fail("expected 3 titles, got " + std::to_string(titles.size()));
  for (const auto& title : titles)
    if (title.as_string() != expected)
      return fail("title '" + title.as_string() + "', expected '" + expected + "'");
  if (result->usage.calls != 3)
    return fail("expected 3 model calls, counted " + std::to_string(result->usage.calls));

  auto splitter = SentenceSplitter::make(SplitterOptions{.chunk_size = 8, .chunk_overlap = 0});
  if (!splitter)
    return fail(splitter.error().to_string());
  const auto chunks = splitter->split(text);
  if (chunks.size() < 2)
    return fail("the splitter made " + std::to_string(chunks.size()) +
                " chunks of a three-sentence text");
  std::printf("host: ok, %zu titles ('%s'), %zu chunks\n", titles.size(), expected.c_str(),
              chunks.size());
  return 0;
}
