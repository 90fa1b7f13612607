#pragma once
// One run's trace as OpenTelemetry sees it: a 128-bit trace id, and how the run's span ids
// (small numbers, unique within the run: SpanEvent::id) become 64-bit OTLP span ids that are
// unique across the runs, processes and cluster nodes that share the trace.

#include <actorflow/result.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace actorflow::detail {

struct OtlpTrace {
  std::array<std::uint8_t, 16> trace_id{};
  /// Mixed into each span id, so that two processes' span 7 are two spans.
  std::uint64_t salt = 0;
  /// The OTLP span the run's root lies in (a host's span, a batch item's attempt on the
  /// node that sent it here); 0: the root span has no parent.
  std::uint64_t root_parent = 0;
  /// When the run started, Unix time (span times are relative to it).
  std::chrono::system_clock::time_point origin{};
  /// The run's id (RunOptions::run_id, else the handle's number), as `actorflow.run.id`.
  std::string run_id{};

  /// The OTLP id of the run's span `local` (SpanEvent::id or ::parent); 0 for 0 (the root's
  /// parent), unless the trace has a root parent.
  [[nodiscard]] std::uint64_t span_id(std::uint64_t local) const noexcept;
};
using OtlpTracePtr = std::shared_ptr<const OtlpTrace>;

/// A W3C trace context ("traceparent": "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>").
struct TraceParent {
  std::array<std::uint8_t, 16> trace_id{};
  std::uint64_t span_id = 0;
  bool sampled = true; ///< flag bit 0: the caller records its trace (else: neither do we)
};
/// Errors: bad_input naming the text and what is wrong with it.
[[nodiscard]] Result<TraceParent> parse_traceparent(std::string_view text);

/// A new trace for run `run_id`, started now: under `parent` when given, else with a fresh
/// random trace id.
[[nodiscard]] OtlpTracePtr new_trace(std::string run_id,
                                     const std::optional<TraceParent>& parent = std::nullopt);

/// The traceparent that puts spans under span `local` of `trace` (on another cluster node).
[[nodiscard]] std::string traceparent_of(const OtlpTrace& trace, std::uint64_t local);

/// Lower-case hex of `bytes`; of a 64-bit id, its 16 digits (big-endian, as OTLP's JSON).
[[nodiscard]] std::string to_hex(const std::array<std::uint8_t, 16>& bytes);
[[nodiscard]] std::string to_hex(std::uint64_t id);

} // namespace actorflow::detail
