#pragma once
/// OpenTelemetry export: every span of every run (flows, nodes, items, attempts, backoffs,
/// grant waits, model calls, tool calls) sent as OTLP over HTTP, JSON encoding, to a
/// collector (the OpenTelemetry Collector, Jaeger, Tempo, Langfuse, Phoenix, ...).
///
/// ```cpp
/// RuntimeConfig config;
/// config.otlp.endpoint = "http://127.0.0.1:4318";   // or set OTEL_EXPORTER_OTLP_ENDPOINT
/// Runtime runtime{std::move(config)};
/// ```
///
/// Model calls follow OpenTelemetry's GenAI semantic conventions: a CLIENT span named
/// "{operation} {model}" with `gen_ai.operation.name` ("chat", "embeddings"),
/// `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`,
/// `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
/// `gen_ai.usage.cache_read.input_tokens`, `gen_ai.response.finish_reasons` and, when it
/// failed, `error.type` (the `Errc` name) with an error status. A tool call is an
/// "execute_tool {tool}" span with `gen_ai.tool.name`. The other spans are INTERNAL, named as
/// in actorflow/trace.hpp, with `actorflow.*` attributes (span kind, node path, item index,
/// attempt). Each run is one trace, its root flow the root span, unless
/// `RunOptions::trace_parent` puts it under a span of the host's own trace.
///
/// What is never exported: prompts, completions, tool arguments and results, State, API keys;
/// error messages only when `OtlpConfig::export_error_messages` says so. Spans carry names,
/// numbers and error types.
///
/// Cost and safety: a run hands each span to a bounded queue and goes on; one sender thread
/// per Runtime takes them in batches and posts them. A slow or dead collector never slows a
/// run: when the queue is full, spans are dropped and counted (`Runtime::otlp_stats`, and a
/// line in the Runtime's log at shutdown). Answers 429, 502, 503 and 504, and failed
/// connections, are retried with exponential backoff, honouring Retry-After, as OTLP/HTTP
/// specifies; other answers drop the batch (counted as failed). Shutdown sends what is queued
/// for at most `shutdown_timeout`, then gives up on the rest (counted as dropped).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace actorflow {

/// Where and how spans are exported. Empty fields take the standard environment variables
/// (read when the Runtime starts); with no endpoint either way, nothing is exported and no
/// thread is started.
struct OtlpConfig {
  /// The collector's base URL ("http://127.0.0.1:4318"): spans go to `<endpoint>/v1/traces`
  /// (a URL that ends in "/v1/traces" already is used as it is).
  /// Empty: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is, a full URL), else
  /// OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces"). OTEL_SDK_DISABLED=true or
  /// OTEL_TRACES_EXPORTER=none turn an endpoint from the environment off. The body is JSON:
  /// OTEL_EXPORTER_OTLP_PROTOCOL may say http/json or http/protobuf (a collector takes
  /// both on one port), not grpc.
  std::string endpoint{};
  /// Extra request headers (a collector's API key). Also OTEL_EXPORTER_OTLP_HEADERS and
  /// OTEL_EXPORTER_OTLP_TRACES_HEADERS ("k1=v1,k2=v2", values percent-decoded); these
  /// win over the environment's. Sent, never logged nor exported.
  std::map<std::string, std::string> headers{};
  /// The resource's `service.name`. Empty: OTEL_SERVICE_NAME, else "actorflow".
  std::string service_name{};
  /// More resource attributes (`deployment.environment`, `service.version`, ...); also
  /// OTEL_RESOURCE_ATTRIBUTES ("k1=v1,k2=v2"), whose entries these win over.
  std::map<std::string, std::string> resource{};
  /// Whether a failed span's status carries its error's message. Off: only the error's type
  /// (`error.type`, and the status message is that type), since messages can quote what a
  /// model answered or a server sent back.
  bool export_error_messages = false;
  /// Spans waiting to be sent at most; beyond, new spans are dropped (and counted).
  std::size_t max_queue = 8192;
  /// Spans per request at most.
  std::size_t max_batch = 512;
  /// How long a span may wait for a batch to fill before it is sent anyway.
  std::chrono::milliseconds delay{500};
  /// One request's time limit (OTEL_EXPORTER_OTLP_TIMEOUT, in ms, when left at 0).
  std::chrono::milliseconds timeout{0};
  /// Retries of one batch after a retryable answer (429, 502, 503, 504, no connection).
  std::uint32_t max_retries = 5;
  /// The first retry's wait when the collector does not say (Retry-After); doubled each time,
  /// with jitter, at most 30 s.
  std::chrono::milliseconds first_backoff{500};
  /// How long the Runtime's shutdown waits for queued spans to go out.
  std::chrono::milliseconds shutdown_timeout{2000};
};

/// What the exporter has done so far (`Runtime::otlp_stats`).
struct OtlpStats {
  std::uint64_t exported = 0; ///< spans the collector accepted
  std::uint64_t dropped = 0;  ///< spans never sent: the queue was full, or shutdown came first
  std::uint64_t failed = 0;   ///< spans sent but refused (a non-retryable answer, retries spent,
                              ///< or rejected by the collector's partial success)
  std::uint64_t requests = 0; ///< POSTs made, retries included
  std::uint64_t retries = 0;  ///< of which retries
  std::string last_error{};   ///< the latest failure, for the log ("" if none)
  friend bool operator==(const OtlpStats&, const OtlpStats&) = default;
};

} // namespace actorflow
