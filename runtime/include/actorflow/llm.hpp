#pragma once
/// Model calls: the request and response types, the `ModelProvider` interface every provider
/// implements, the registry a Runtime is configured with, and `LlmClient`, what node code
/// calls.
///
/// Node code reaches a provider through `ctx.llm()` (the default) or `ctx.llm("name")`, and
/// awaits `chat` or `embed` without holding a thread. Host code may call a provider directly:
/// every provider is thread-safe. The embedded `local` provider is in actorflow/local_model.hpp.

#include <actorflow/chat.hpp>
#include <actorflow/model_route.hpp>
#include <actorflow/result.hpp>
#include <actorflow/task.hpp>

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

namespace detail {
class ExecHost;
class RouteBoard;
} // namespace detail

struct EmbedRequest {
  std::vector<std::string> texts{};
  std::string model{}; ///< empty: the provider's default embedding model
  /// Where the call was made (see CallOrigin); not sent to the server.
  CallOrigin origin{};
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
      : result(std::move(r)), rate_limits(limits) {}
  Result<T> result;
  RateLimitInfo rate_limits;
  /// Whether the call went through a batch API after all (priced with its discount); none: as
  /// the provider's `batched()` says. A batch provider that sends a call online says false.
  std::optional<bool> batched{};
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
  /// Whether the server takes a json_schema response_format (structured outputs).
  [[nodiscard]] virtual bool supports_json_schema() const noexcept { return true; }
  /// Whether calls go through the provider's batch API, priced with `Price::batch_discount`.
  [[nodiscard]] virtual bool batched() const noexcept { return false; }
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

  /// Chat calls asking for `model` follow `route`: the primary target, then fallbacks (see
  /// actorflow/model_route.hpp). Replaces an earlier route for `model`. Not for embeddings:
  /// another model's vectors would not be comparable with the first one's.
  ModelRegistry& route(std::string model, ModelRoute route);
  /// The routes and their targets' health: shared by every copy of this registry, so by every
  /// run of a Runtime. Null until a route is added.
  [[nodiscard]] const std::shared_ptr<detail::RouteBoard>& routes() const noexcept {
    return routes_;
  }

private:
  std::shared_ptr<detail::RouteBoard> routes_;
  std::map<std::string, ModelProviderPtr, std::less<>> providers_;
  std::string first_added_;
  std::string default_;
};

/// How `LlmClient::structured` asks for, checks and repairs a JSON answer.
struct StructuredOptions {
  /// Times an answer that is not JSON or breaks the schema is sent back to the model with
  /// the problems quoted, before the call fails with bad_output.
  std::uint32_t max_repairs = 2;
  /// The schema's name in response_format.
  std::string name = "answer";
  /// Ask the server to decode within the schema (OpenAI's strict mode).
  bool strict = true;
};

/// A model provider as node code sees it: `co_await ctx.llm().chat(request)`. Each call
/// suspends the node (no thread is held while the model works) and yields the provider's
/// answer or a typed error (rate_limited with retry_after, server_error, timeout, ...), which a
/// node's RetryPolicy can retry. Cheap to copy; valid while the Context it came from is.
class LlmClient {
public:
  LlmClient(detail::ExecHost& host, std::string name, ModelProviderPtr provider)
      : host_(&host), name_(std::move(name)), provider_(std::move(provider)) {}

  /// The provider's name in the Runtime's ModelRegistry.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// False when no provider has that name; calls then fail with bad_input naming the
  /// providers there are.
  [[nodiscard]] bool valid() const noexcept { return provider_ != nullptr; }

  [[nodiscard]] Task<Result<ChatResponse>> chat(ChatRequest request) const;
  /// One user message.
  [[nodiscard]] Task<Result<ChatResponse>> chat(std::string prompt) const;
  /// A structured output: asks for JSON valid against `schema` (a JSON Schema), validates the
  /// answer, and yields it as a Value. The schema goes to the server as a json_schema
  /// response_format when the provider supports one (`ModelProvider::supports_json_schema`),
  /// else into a system message. An answer that is not JSON, or breaks the schema, is sent
  /// back with the problems quoted, up to `max_repairs` times; then the call fails with
  /// bad_output naming the first failing path. A refusal is bad_output with the model's
  /// words; a schema that is no JSON Schema is bad_input. Each attempt is an ordinary chat
  /// call (limits, usage, retries of transport errors).
  [[nodiscard]] Task<Result<Value>> structured(ChatRequest request, Value schema,
                                               StructuredOptions options) const;
  // An overload, not a default argument: GCC 12 destroys a default argument's temporary
  // twice when the call is inside a co_await expression.
  [[nodiscard]] Task<Result<Value>> structured(ChatRequest request, Value schema) const;
  [[nodiscard]] Task<Result<Embeddings>> embed(EmbedRequest request) const;
  [[nodiscard]] Task<Result<Embeddings>> embed(std::vector<std::string> texts) const;

private:
  detail::ExecHost* host_;
  std::string name_;
  ModelProviderPtr provider_;
};

// -- token accounting ---------------------------------------------------------------------------

/// Tokens the prompt of `request` costs: each message's text, plus 3 tokens per message for
/// its role and separators (as OpenAI's chat format costs).
[[nodiscard]] std::uint64_t estimate_prompt_tokens(const ChatRequest& request,
                                                   const TokenEstimator& tokens);
/// What a rate limiter reserves for a call before it is made, with the default estimator: the
/// prompt estimate plus `max_tokens` for a chat (as servers count it), the texts' estimate for
/// embeddings. The resource controllers and `actorflow sim` both count calls this way.
[[nodiscard]] std::uint64_t reserved_tokens(const ChatRequest& request);
[[nodiscard]] std::uint64_t reserved_tokens(const EmbedRequest& request);

} // namespace actorflow
