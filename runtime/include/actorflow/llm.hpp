#pragma once
/// Model calls: the request and response types, the `ModelProvider` interface every provider
/// implements, the registry a Runtime is configured with, and the embedded `local` provider.
///
/// Node code reaches a provider through `ctx.llm()` (the default) or `ctx.llm("name")`, and
/// awaits `chat` or `embed` without holding a thread (see `LlmClient` in actorflow/context.hpp).
/// Host code may call a provider directly: every provider is thread-safe.

#include <actorflow/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

class TokenEstimator;

/// One message of a chat: `role` is "system", "user", "assistant" (or "tool").
struct ChatMessage {
  std::string role;
  std::string content;
  friend bool operator==(const ChatMessage&, const ChatMessage&) = default;
};

struct ChatRequest {
  std::vector<ChatMessage> messages{};
  /// Empty: the provider's default model.
  std::string model{};
  /// Most tokens the answer may have; none: the provider's own limit.
  std::optional<std::uint32_t> max_tokens{};
  std::optional<double> temperature{};
  /// The answer ends before the first of these.
  std::vector<std::string> stop{};
  /// Streaming: when set, the answer is asked for as a stream (`stream: true`) and each piece
  /// of text is passed here as it arrives, on the provider's I/O thread (keep it quick and
  /// thread-safe). The final ChatResponse still holds the whole text.
  std::function<void(std::string_view piece)> on_token{};

  /// A request of one user message.
  [[nodiscard]] static ChatRequest user(std::string content);
  /// The content of the last "user" message (of the last message if none is from the user);
  /// "" when there are no messages.
  [[nodiscard]] const std::string& prompt() const;
};

/// Tokens a call used, as the provider counted them.
struct Usage {
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t total_tokens = 0;
  friend bool operator==(const Usage&, const Usage&) = default;
};

/// What a server said about its rate limits (OpenAI's x-ratelimit-* headers), on successes and
/// on 429s alike. Each field is absent when the server did not send it.
struct RateLimitInfo {
  std::optional<std::uint64_t> limit_requests{};
  std::optional<std::uint64_t> remaining_requests{};
  std::optional<std::chrono::milliseconds> reset_requests{}; ///< until the request limit resets
  std::optional<std::uint64_t> limit_tokens{};
  std::optional<std::uint64_t> remaining_tokens{};
  std::optional<std::chrono::milliseconds> reset_tokens{};
  [[nodiscard]] bool empty() const noexcept;
  friend bool operator==(const RateLimitInfo&, const RateLimitInfo&) = default;
};

struct ChatResponse {
  std::string text{};
  /// "stop" (a natural end or a stop sequence), "length" (max_tokens reached), or what the
  /// server said.
  std::string finish_reason{};
  Usage usage{};
  /// The model that answered, as the provider named it.
  std::string model{};
  RateLimitInfo rate_limits{};
};

struct EmbedRequest {
  std::vector<std::string> texts{};
  std::string model{}; ///< empty: the provider's default embedding model
};

struct Embeddings {
  /// One vector per input text, in input order.
  std::vector<std::vector<float>> vectors{};
  Usage usage{};
  std::string model{};
  RateLimitInfo rate_limits{};
};

/// The end of one provider call: the result, and the server's rate-limit headers also when it
/// failed (a 429 carries them; the resource controller reads them either way).
template <class T>
struct ModelOutcome {
  ModelOutcome(Result<T> r, RateLimitInfo limits = {})
      : result(std::move(r)), rate_limits(std::move(limits)) {}
  Result<T> result;
  RateLimitInfo rate_limits;
};

/// A source of chat answers and embeddings. Implementations must be thread-safe: one provider
/// serves every node of every run of a Runtime at once.
///
/// Calls never block the caller for the network: `chat` and `embed` start the work and return;
/// `done` is called exactly once, from any thread (an I/O thread, or this one before the call
/// returns), with the outcome. Errors are typed (see `Errc`): rate_limited (with
/// `retry_after`), server_error, timeout, connection_failed, bad_request, bad_response.
class ModelProvider {
public:
  using ChatDone = std::function<void(ModelOutcome<ChatResponse>)>;
  using EmbedDone = std::function<void(ModelOutcome<Embeddings>)>;

  virtual ~ModelProvider();
  /// What kind of provider this is, e.g. "openai" or "local".
  [[nodiscard]] virtual std::string_view kind() const noexcept = 0;
  /// The chat model used when a request names none.
  [[nodiscard]] virtual std::string default_model() const = 0;
  /// The embedding model used when a request names none (by default the chat model).
  [[nodiscard]] virtual std::string default_embedding_model() const { return default_model(); }
  virtual void chat(ChatRequest request, ChatDone done) = 0;
  virtual void embed(EmbedRequest request, EmbedDone done) = 0;

protected:
  ModelProvider() = default;
  ModelProvider(const ModelProvider&) = default;
  ModelProvider& operator=(const ModelProvider&) = default;
};

using ModelProviderPtr = std::shared_ptr<ModelProvider>;

/// The providers a Runtime knows, by name. A Runtime always has one named "local" (the
/// embedded provider) unless the registry names something else so.
///
/// The default provider (what `ctx.llm()` reaches) is the one given to `set_default`; without
/// that, the first one added; without any, "local".
class ModelRegistry {
public:
  /// Adds or replaces the provider called `name`.
  ModelRegistry& add(std::string name, ModelProviderPtr provider);
  ModelRegistry& set_default(std::string name);

  /// Null when there is no provider of that name.
  [[nodiscard]] ModelProviderPtr find(std::string_view name) const;
  /// The provider called `name`; without one, a bad_input error naming the configured ones.
  [[nodiscard]] Result<ModelProviderPtr> get(std::string_view name) const;
  [[nodiscard]] std::string default_name() const;
  /// Every name, sorted, e.g. for "no provider 'x' (configured: local, openai)".
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] bool contains(std::string_view name) const { return find(name) != nullptr; }

private:
  std::map<std::string, ModelProviderPtr, std::less<>> providers_;
  std::string first_added_;
  std::string default_;
};

// -- the embedded `local` provider ------------------------------------------------------------

/// The local provider's dimension for embeddings.
inline constexpr std::size_t local_embedding_dimension = 256;

/// The local provider's answer to `request`, computed on this thread. The reply is
/// `local_chat_reply(request.prompt())` (see actorflow/local_model.hpp), cut at the first stop
/// sequence (finish "stop") or to `max_tokens` tokens (finish "length"). Usage counts the
/// prompt as the text of every message plus 3 tokens per message (the role and separators, as
/// OpenAI's chat format costs), and the answer, both with `tokens`.
[[nodiscard]] ChatResponse local_chat(const ChatRequest& request, const TokenEstimator& tokens);
/// The local provider's embeddings: `hashing_embedding(text, local_embedding_dimension)` for
/// each text; usage counts every text with `tokens`.
[[nodiscard]] Embeddings local_embed(const EmbedRequest& request, const TokenEstimator& tokens);
/// Tokens the prompt of `request` costs under `local_chat`'s rule.
[[nodiscard]] std::uint64_t estimate_prompt_tokens(const ChatRequest& request,
                                                   const TokenEstimator& tokens);
/// What a rate limiter reserves for a call before it is made, with the default estimator: the
/// prompt estimate plus `max_tokens` for a chat (as servers count it), the texts' estimate for
/// embeddings. The resource controllers and `actorflow sim` both count calls this way.
[[nodiscard]] std::uint64_t reserved_tokens(const ChatRequest& request);
[[nodiscard]] std::uint64_t reserved_tokens(const EmbedRequest& request);

/// The embedded provider: offline, deterministic, answers at once (on the calling thread).
/// It is no LLM; see actorflow/local_model.hpp for exactly what it does. Model name "local".
[[nodiscard]] ModelProviderPtr make_local_provider();

} // namespace actorflow
