#pragma once
/// The `openai` provider: any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, llama.cpp's
/// server, Ollama, LiteLLM, `actorflow sim`), through libcurl's multi interface.
///
/// One I/O thread per provider drives every transfer: thousands of requests can be in flight
/// without a thread each. Completions are handed back from that thread (to the awaiting node's
/// actor, as a message, when called through `ctx.llm()`).
///
/// The API key is sent in the Authorization header and nowhere else: it is never logged, and it
/// is scrubbed from any error text (some servers echo the key they were given).

#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace actorflow {

struct OpenAiConfig {
  /// Up to and including the version, as OPENAI_BASE_URL: requests go to
  /// `base_url + "/chat/completions"` and `base_url + "/embeddings"`.
  std::string base_url = "https://api.openai.com/v1";
  /// Sent as "Authorization: Bearer <key>"; empty: no Authorization header (local servers).
  std::string api_key{};
  /// The chat model when a request names none.
  std::string model = "gpt-4o-mini";
  std::string embedding_model = "text-embedding-3-small";
  /// One request, from start to the last byte.
  std::chrono::milliseconds timeout = std::chrono::seconds(120);
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  /// Open connections at most (kept alive and reused); more requests than this wait in the
  /// I/O thread's queue, not in a thread. 0: no limit.
  std::size_t max_connections = 256;
  /// Further headers for every request, e.g. {"OpenAI-Organization", "org-..."}.
  std::vector<std::pair<std::string, std::string>> headers{};
  /// Whether the server takes a json_schema response_format (OpenAI does; many local servers
  /// do not): when false, LlmClient::structured puts the schema into a system message.
  bool json_schema = true;

  /// Reads OPENAI_BASE_URL (default above), OPENAI_API_KEY (required unless the base URL is on
  /// loopback: local servers often need none), OPENAI_MODEL and OPENAI_EMBEDDING_MODEL.
  /// The error names the variable that is missing or malformed.
  [[nodiscard]] static Result<OpenAiConfig> from_env();
};

/// What the I/O thread did so far: for tests and benchmarks.
struct HttpStats {
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  /// Most transfers in flight at once.
  std::uint64_t max_in_flight = 0;
  /// Distinct threads that ran libcurl's transfer callbacks (1: the I/O thread).
  std::uint64_t io_threads = 0;
};

class OpenAiProvider final : public ModelProvider {
public:
  /// Starts the I/O thread. A malformed config (empty base URL, not http or https) is
  /// reported by every call as bad_input.
  explicit OpenAiProvider(OpenAiConfig config);
  /// Stops the I/O thread; calls still in flight complete with `Errc::cancelled`.
  ~OpenAiProvider() override;
  OpenAiProvider(const OpenAiProvider&) = delete;
  OpenAiProvider& operator=(const OpenAiProvider&) = delete;

  [[nodiscard]] std::string_view kind() const noexcept override { return "openai"; }
  [[nodiscard]] std::string default_model() const override;
  [[nodiscard]] std::string default_embedding_model() const override;
  [[nodiscard]] bool supports_json_schema() const noexcept override;
  void chat(ChatRequest request, ChatDone done) override;
  void embed(EmbedRequest request, EmbedDone done) override;

  [[nodiscard]] HttpStats stats() const;
  [[nodiscard]] const OpenAiConfig& config() const noexcept;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `std::make_shared<OpenAiProvider>(config)`.
[[nodiscard]] ModelProviderPtr make_openai_provider(OpenAiConfig config);

/// For programs that let their environment pick the model server: when OPENAI_BASE_URL is set,
/// adds an openai provider configured by `OpenAiConfig::from_env()` to `models` as `name` and
/// returns true; when it is not set, adds nothing and returns false; an unusable setting (no
/// key for a remote server) is an error. (The Runtime itself reads no environment variables.)
[[nodiscard]] Result<bool> add_openai_from_env(ModelRegistry& models, std::string name = "openai");

} // namespace actorflow
