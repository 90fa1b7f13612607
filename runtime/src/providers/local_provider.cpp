// The embedded `local` provider: offline and deterministic, answering on the calling thread
// with the local model's text functions (actorflow/local_model.hpp).

#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/tokens.hpp>

namespace actorflow {

namespace {

/// `text` cut to at most `limit` tokens, at a word boundary. Word costs are added up one by
/// one (with the space before them), which is what the estimator does for ASCII prose.
std::string cut_to_tokens(const std::string& text, std::uint64_t limit,
                          const TokenEstimator& tokens) {
  std::uint64_t used = 0;
  std::size_t end = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto word_start = text.find_first_not_of(' ', pos);
    if (word_start == std::string::npos)
      break;
    auto word_end = text.find(' ', word_start);
    if (word_end == std::string::npos)
      word_end = text.size();
    used += tokens.count(std::string_view(text).substr(pos, word_end - pos));
    if (used > limit)
      break;
    end = word_end;
    pos = word_end;
  }
  return text.substr(0, end);
}

class LocalProvider final : public ModelProvider {
public:
  std::string_view kind() const noexcept override { return "local"; }
  std::string default_model() const override { return "local"; }

  void chat(ChatRequest request, ChatDone done) override {
    auto response = local_chat(request, default_token_estimator());
    if (request.on_token)
      request.on_token(response.text); // one piece: it is all there at once
    done(ModelOutcome<ChatResponse>(std::move(response)));
  }

  void embed(EmbedRequest request, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(local_embed(request, default_token_estimator())));
  }
};

} // namespace

ChatResponse local_chat(const ChatRequest& request, const TokenEstimator& tokens) {
  ChatResponse out;
  out.model = request.model.empty() ? "local" : request.model;
  out.text = local_chat_reply(request.prompt());
  out.finish_reason = "stop";
  for (const auto& stop : request.stop) {
    if (stop.empty())
      continue;
    if (auto at = out.text.find(stop); at != std::string::npos)
      out.text.resize(at);
  }
  if (request.max_tokens && tokens.count(out.text) > *request.max_tokens) {
    out.text = cut_to_tokens(out.text, *request.max_tokens, tokens);
    out.finish_reason = "length";
  }
  out.usage.prompt_tokens = estimate_prompt_tokens(request, tokens);
  out.usage.completion_tokens = tokens.count(out.text);
  out.usage.total_tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
  return out;
}

Embeddings local_embed(const EmbedRequest& request, const TokenEstimator& tokens) {
  Embeddings out;
  out.model = request.model.empty() ? "local" : request.model;
  out.vectors.reserve(request.texts.size());
  for (const auto& text : request.texts) {
    out.vectors.push_back(hashing_embedding(text, local_embedding_dimension));
    out.usage.prompt_tokens += tokens.count(text);
  }
  out.usage.total_tokens = out.usage.prompt_tokens;
  return out;
}

ModelProviderPtr make_local_provider() { return std::make_shared<LocalProvider>(); }

} // namespace actorflow
