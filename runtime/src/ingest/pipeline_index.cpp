// PipelineIndex: a query embedded by the provider that embedded the items, then a vector search.

#include <actorflow/flow.hpp>
#include <actorflow/ingest/pipeline.hpp>
#include <actorflow/runtime.hpp>

#include <utility>

namespace actorflow {

namespace {

// Embeds the question of the state, through the provider an index was built with.
class EmbedQuestion : public Node {
public:
  EmbedQuestion(std::string provider, std::string model)
      : provider_(std::move(provider)), model_(std::move(model)) {}
  Value prep(const State& state) override { return state.at("question"); }
  Task<Value> exec(Value question, Context& ctx) override {
    EmbedRequest request;
    request.texts.push_back(question.as_string());
    request.model = model_;
    const LlmClient llm = provider_.empty() ? ctx.llm() : ctx.llm(provider_);
    auto reply = co_await llm.embed(std::move(request));
    const auto& vectors = reply.value().vectors; // an error fails the node with its code
    if (vectors.size() != 1)
      throw Failure(Error{Errc::bad_response, "embed: one question gave " +
                                                  std::to_string(vectors.size()) + " vectors"});
    Array numbers(vectors[0].begin(), vectors[0].end());
    co_return Value(std::move(numbers));
  }
  std::string post(State& state, const Value&, const Value& embedding) override {
    state = state.with("embedding", embedding);
    return std::string(default_action);
  }

private:
  std::string provider_;
  std::string model_;
};

} // namespace

Result<PipelineIndex> PipelineIndex::build(std::vector<IngestItem> items, std::string provider,
                                           std::string model) {
  PipelineIndex out;
  out.provider_ = std::move(provider);
  out.model_ = std::move(model);
  for (auto& item : items) {
    std::string id = item.id;
    if (auto added = out.index_.add(std::move(item)); !added)
      return Error{added.error().code, "item '" + id + "': " + added.error().message};
  }
  return out;
}

Result<std::vector<VectorHit>> PipelineIndex::query(Runtime& runtime, std::string_view question,
                                                    std::size_t k) const {
  auto flow = FlowBuilder("query").node<EmbedQuestion>("embed_question", provider_, model_).build();
  if (!flow)
    return flow.error();
  auto run = runtime.run(*flow, State{}.with("question", std::string(question))).get();
  if (!run)
    return run.error();
  std::vector<float> embedding;
  for (const auto& x : run->state.at("embedding").as_array())
    embedding.push_back(static_cast<float>(x.as_double()));
  return index_.query(embedding, k);
}

} // namespace actorflow
