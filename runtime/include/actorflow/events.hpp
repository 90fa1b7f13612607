#pragma once
/// What a run tells its host while it runs, each through a callback of `RunOptions`:
/// - `AttemptEvent` (on_attempt): every failed attempt, retry, timeout, fallback and circuit
///   change of the supervisor;
/// - `BatchProgress` (on_progress): how far each batch has come;
/// - `ModelCallEvent` (on_model_call): every model call, when it ends;
/// - `SpanEvent` (on_span): where the run spent its time, as a tree of timed spans.
///
/// Callbacks are called from runtime threads (a model call ends on its provider's thread),
/// possibly several at once: keep them quick and thread-safe. None is called once the run has
/// ended.

#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace actorflow {

/// One step of supervision, reported to `RunOptions::on_attempt` (for logs and telemetry).
struct AttemptEvent {
  enum class Kind : std::uint8_t {
    failed,           ///< an attempt failed (its error; a dead child is `peer_lost`)
    timed_out,        ///< an attempt passed attempt_timeout and was abandoned (a `failed`
                      ///< event for the same attempt follows: count one of the two)
    retry_scheduled,  ///< the next attempt starts after `delay`
    gave_up,          ///< no more attempts: `error` is the outcome
    fallback_used,    ///< exec_fallback supplied the value after the last failure
    circuit_opened,   ///< too many failures: the supervisor fails fast from now on
    circuit_rejected, ///< work failed fast because the circuit was open
    model_fallback,   ///< a model call moved on along its route (`from`, `to`; `error`: why)
  };
  Kind kind = Kind::failed;
  std::string node;                ///< the node's path, "outer/inner"
  std::optional<std::size_t> item; ///< the item's index inside a batch
  std::uint32_t attempt = 0;       ///< 1-based number of the attempt concerned
  Error error;
  std::chrono::milliseconds delay{0}; ///< for retry_scheduled
  /// For model_fallback: the "provider/model" keys the call moved from and to.
  std::string from{}, to{};
};

/// "failed", "retry_scheduled", ... (all the kinds, as named).
[[nodiscard]] std::string_view to_string(AttemptEvent::Kind kind) noexcept;

/// Progress of one batch (`RunOptions::on_progress`): about 100 events per batch, and a final one.
struct BatchProgress {
  std::string node;     ///< the batch node's path, e.g. "outer/summarise"
  std::size_t done = 0; ///< finished items, failed ones included
  std::size_t failed = 0;
  std::size_t in_flight = 0;
  std::optional<std::size_t> total; ///< known for arrays, unknown for generators
  bool finished = false;            ///< the last event of this batch
};

/// One model call of a run, reported when it ends (`RunOptions::on_model_call`).
struct ModelCallEvent {
  /// The provider's name in the registry ("openai", or a host's own name for it).
  std::string provider;
  std::string model;
  /// What the provider is (`ModelProvider::kind()`: "openai", "local", ...): OpenTelemetry's
  /// gen_ai.provider.name. Empty when no one listens to model calls or spans.
  std::string provider_kind;
  /// "chat" or "embeddings" (OpenTelemetry's gen_ai.operation.name); "" for a call refused
  /// before it went out.
  std::string operation;
  /// The model that answered, as the server named it ("" when it did not say, or failed).
  std::string response_model;
  /// Why the model stopped ("stop", "length", "tool_calls", ...; "" for embeddings).
  std::string finish_reason;
  /// The node that made it ("outer/inner"), and the item's index in a batch.
  std::string node;
  std::optional<std::size_t> item;
  /// Waiting for the grant (runtime clock), and the call itself (real time).
  std::chrono::nanoseconds waited{0};
  std::chrono::nanoseconds took{0};
  std::uint64_t estimated_tokens = 0;
  /// As the provider counted them; zero when the call failed.
  Usage usage{};
  /// Why it failed; none when it succeeded.
  std::optional<Error> error{};
  /// What it cost in US dollars, by `RuntimeConfig::prices` (0 without a price).
  double cost = 0;
  /// Made through a provider's batch API (priced with the batch discount).
  bool batched = false;
};

/// One timed piece of a run, reported when it ends.
///
/// Times are on the runtime's clock (the virtual clock under `testing::VirtualClock`), measured
/// from the start of the run. A child lies within its parent, with one exception: a model call
/// whose attempt was abandoned (attempt_timeout) goes on, and ends, after its parent.
struct SpanEvent {
  enum class Kind : std::uint8_t {
    flow,       ///< one run of a flow, the root or a nested one (`name`: the flow's name)
    node,       ///< one node execution: prep, exec (all attempts) and post (`name`: its path)
    item,       ///< one batch item, from its first attempt to its final outcome
    attempt,    ///< one exec attempt of a node or of an item
    backoff,    ///< the wait between a failed attempt and the next one
    grant_wait, ///< a model call waiting for its grant (`name`: "provider/model")
    model_call, ///< a model call, from its grant until the provider answered ("provider/model")
  };
  Kind kind = Kind::flow;
  /// The flow's name; the node's path ("outer/inner") for node, item, attempt and backoff
  /// spans; "provider/model" for grant_wait and model_call.
  std::string name;
  /// The batch item's index: for item spans, and the attempts, backoffs, grant waits and model
  /// calls of an item (not for flows and nodes that run inside an item's exec).
  std::optional<std::size_t> item;
  /// 1-based: an attempt's number; for a backoff, the attempt it waits to start; for a grant
  /// wait or a model call, the attempt that made it; for an item, the attempts it took.
  /// 0 for flows and nodes.
  std::uint32_t attempt = 0;
  std::uint64_t id = 0;              ///< unique within the run, never 0
  std::uint64_t parent = 0;          ///< the enclosing span's id; 0 for the root flow
  std::chrono::nanoseconds start{0}; ///< since the run started
  std::chrono::nanoseconds duration{0};
  /// Why it failed. Work that was stopped (the run cancelled, a batch that stopped early, an
  /// attempt that timed out) ends with `cancelled` or `timeout`.
  std::optional<Error> error;
  /// model_call spans: the call as `on_model_call` reports it (models, usage, finish reason),
  /// for exporters that describe it (actorflow/otlp.hpp); null for other spans.
  std::shared_ptr<const ModelCallEvent> call;
};

/// "flow", "node", "item", "attempt", "backoff", "grant_wait", "model_call".
[[nodiscard]] std::string_view to_string(SpanEvent::Kind kind) noexcept;

} // namespace actorflow
