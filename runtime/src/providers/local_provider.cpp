// The embedded `local` provider: offline and deterministic, answering on the calling thread
// with the local model's text functions (actorflow/local_model.hpp).

#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/tokens.hpp>

#include "core/content_hash.hpp"
#include "providers/pacer.hpp"

#include <algorithm>
#include <memory>
#include <mutex>

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

/// The reply to a chat whose last messages are tool results: those results, by tool.
std::string answer_from_tool_results(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (auto it = messages.rbegin(); it != messages.rend() && it->role == "tool"; ++it) {
    std::string line = (it->name.empty() ? std::string("tool") : it->name) + ": " + it->text();
    out = out.empty() ? line : line + "; " + out;
  }
  return "[local model] " + out;
}

/// An instance of a schema broken on purpose: its first required member left out (else, its
/// first member given the wrong type), so that it does not validate.
std::string broken(const Value& schema, const std::string& instance_json) {
  auto instance = from_json(instance_json);
  if (!instance || !instance->is_map() || instance->as_map().empty())
    return "{\"broken\": true"; // not even JSON
  auto& members = instance->as_map();
  const Value* required = schema.is_map() ? schema.find("required") : nullptr;
  if (required && required->is_array() && !required->as_array().empty() &&
      required->as_array().front().is_string())
    members.erase(required->as_array().front().as_string());
  else
    members.begin()->second = Value::array({Value("not"), Value("this")});
  return to_json(*instance);
}

class LocalProvider final : public ModelProvider {
public:
  explicit LocalProvider(LocalProviderOptions options) : options_(options) {}
  ~LocalProvider() override { pacer_.reset(); } // completes what still streams

  std::string_view kind() const noexcept override { return "local"; }
  std::string default_model() const override { return "local"; }

  void chat(ChatRequest request, ChatDone done) override {
    auto response = local_chat(request, default_token_estimator());
    if (breaks(request))
      response.text = broken(request.response_format->schema, response.text);
    if (request.on_token && options_.stream_interval.count() > 0)
      return stream(std::move(request.on_token), std::move(response), std::move(done));
    if (request.on_token)
      request.on_token(response.text); // one piece: it is all there at once
    done(ModelOutcome<ChatResponse>(std::move(response)));
  }

  void embed(EmbedRequest request, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(local_embed(request, default_token_estimator())));
  }

private:
  /// A first answer (no assistant turn yet: not a repair) to a json_schema request, one in
  /// `bad_structured_one_in` by the prompt's hash: deterministic, whatever the call order.
  [[nodiscard]] bool breaks(const ChatRequest& request) const {
    auto n = options_.bad_structured_one_in;
    if (n == 0 || !request.response_format ||
        request.response_format->type != ResponseFormat::Type::json_schema)
      return false;
    for (const auto& m : request.messages)
      if (m.role == "assistant")
        return false;
    return detail::fnv1a64(request.prompt()) % n == 0;
  }

  // The answer a word (with the space before it) at a time, at the configured pace.
  void stream(std::function<void(std::string_view)> on_token, ChatResponse response,
              ChatDone done) {
    std::vector<std::string> pieces;
    const auto& text = response.text;
    for (std::size_t start = 0; start < text.size();) {
      auto end = text.find(' ', text.find_first_not_of(' ', start));
      end = end == std::string::npos ? text.size() : end;
      pieces.push_back(text.substr(start, end - start));
      start = end;
    }
    auto finish = [response = std::make_shared<ChatResponse>(std::move(response)),
                   done = std::move(done)]() mutable {
      done(ModelOutcome<ChatResponse>(std::move(*response)));
    };
    pacer().stream(std::move(pieces), std::move(on_token), std::move(finish));
  }

  detail::Pacer& pacer() {
    std::call_once(pacer_started_,
                   [this] { pacer_ = std::make_unique<detail::Pacer>(options_.stream_interval); });
    return *pacer_;
  }

  LocalProviderOptions options_;
  std::once_flag pacer_started_;
  std::unique_ptr<detail::Pacer> pacer_; // started by the first streamed call
};

} // namespace

ChatResponse local_chat(const ChatRequest& request, const TokenEstimator& tokens) {
  ChatResponse out;
  out.model = request.model.empty() ? "local" : request.model;
  out.finish_reason = "stop";
  out.tool_calls = local_tool_calls(request);
  const auto& format = request.response_format;
  if (!out.tool_calls.empty()) {
    out.finish_reason = "tool_calls";
  } else if (!request.messages.empty() && request.messages.back().role == "tool") {
    out.text = answer_from_tool_results(request.messages);
  } else if (format && format->type == ResponseFormat::Type::json_schema) {
    // From the first user message: later ones of a structured chat are repair requests about
    // the same task.
    auto first = std::find_if(request.messages.begin(), request.messages.end(),
                              [](const ChatMessage& m) { return m.role == "user"; });
    auto task = first != request.messages.end() ? first->text() : request.prompt();
    out.text = to_json(local_fill_schema(format->schema, task));
  } else if (format && format->type == ResponseFormat::Type::json_object) {
    out.text = to_json(Value::object({{"answer", local_chat_reply(request.prompt())}}));
  } else {
    out.text = local_chat_reply(request.prompt());
  }
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
  for (const auto& call : out.tool_calls)
    out.usage.completion_tokens += tokens.count(call.name) + tokens.count(call.arguments);
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

ModelProviderPtr make_local_provider(LocalProviderOptions options) {
  return std::make_shared<LocalProvider>(options);
}

} // namespace actorflow
