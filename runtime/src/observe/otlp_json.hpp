#pragma once
// Spans as an OTLP/HTTP JSON request (ExportTraceServiceRequest, protobuf's JSON mapping as
// OTLP specifies it: ids as hex, 64-bit integers as strings, enums as numbers), written
// straight into one string: no tree of values per span.

#include <actorflow/events.hpp>
#include <actorflow/otlp.hpp>

#include "observe/otlp_trace.hpp"

#include <string>
#include <vector>

namespace actorflow::detail {

/// A span on its way out, with the trace of the run it belongs to.
struct QueuedSpan {
  OtlpTracePtr trace;
  SpanEvent span;
};

/// The request body for `spans`, all under one resource (`config`'s service name and
/// resource attributes); error messages in the spans' status only when `config` says so.
[[nodiscard]] std::string otlp_request_json(const std::vector<QueuedSpan>& spans,
                                            const OtlpConfig& config);

} // namespace actorflow::detail
