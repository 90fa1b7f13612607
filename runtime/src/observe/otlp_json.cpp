#include "observe/otlp_json.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace actorflow::detail {

namespace {

// OTLP's SpanKind and StatusCode.
constexpr int kind_internal = 1;
constexpr int kind_client = 3;
constexpr int status_error = 2;

constexpr std::string_view tool_flow_prefix = "tool:"; // a tool call's one-node flow

class Writer {
public:
  explicit Writer(std::string& out) : out_(out) {}

  void raw(std::string_view text) { out_ += text; }
  void quoted(std::string_view text) {
    // The usual name or path is plain ASCII with nothing to escape: appended as it is. The
    // rest goes through json_quote (escapes, and bytes that are not UTF-8).
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte >= 0x20 && byte < 0x80 && c != '"' && c != '\\';
    });
    if (!plain) {
      out_ += json_quote(text);
      return;
    }
    out_ += '"';
    out_.append(text.data(), text.size());
    out_ += '"';
  }
  void number(std::int64_t value) {
    char buf[24];
    const auto* end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    // By length, not by iterators: GCC 12 at -O3 warns (falsely, -Wrestrict) on the latter.
    out_.append(buf, static_cast<std::size_t>(end - buf));
  }
  // 64-bit integers are strings in protobuf's JSON mapping.
  void long_string(std::int64_t value) {
    out_ += '"';
    number(value);
    out_ += '"';
  }

  // Attributes: [{"key":"k","value":{"stringValue":"v"}}, ...]; the first has no comma.
  // `after`: the attributes follow another member of their object.
  void begin_attributes(bool after = true) {
    raw(after ? ",\"attributes\":[" : "\"attributes\":[");
    first_ = true;
  }
  void end_attributes() { raw("]"); }
  /// `key` is one of this file's own plain names: nothing in it to escape.
  void attribute(std::string_view key, std::string_view value) {
    open(key);
    raw("{\"stringValue\":");
    quoted(value);
    raw("}}");
  }
  void attribute(std::string_view key, std::int64_t value) {
    open(key);
    raw("{\"intValue\":");
    long_string(value);
    raw("}}");
  }
  /// A key from outside (a host's resource attributes): escaped.
  void foreign_attribute(std::string_view key, std::string_view value) {
    comma();
    raw("{\"key\":");
    quoted(key);
    raw(",\"value\":{\"stringValue\":");
    quoted(value);
    raw("}}");
  }
  void string_list(std::string_view key, std::string_view single) {
    open(key);
    raw("{\"arrayValue\":{\"values\":[{\"stringValue\":");
    quoted(single);
    raw("}]}}}");
  }

private:
  void comma() {
    if (!first_)
      out_ += ',';
    first_ = false;
  }
  void open(std::string_view key) {
    comma();
    raw("{\"key\":\"");
    raw(key);
    raw("\",\"value\":");
  }

  std::string& out_;
  bool first_ = true;
};

std::int64_t unix_nanos(const OtlpTrace& trace, std::chrono::nanoseconds since_start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(trace.origin.time_since_epoch())
             .count() +
         since_start.count();
}

bool is_tool_call(const SpanEvent& span) {
  return span.kind == SpanEvent::Kind::flow && span.name.starts_with(tool_flow_prefix);
}

/// The span's name: low-cardinality, as OpenTelemetry asks (the item's index and the
/// attempt's number are attributes).
std::string name_of(const SpanEvent& span) {
  switch (span.kind) {
    case SpanEvent::Kind::flow:
      if (is_tool_call(span))
        return "execute_tool " + span.name.substr(tool_flow_prefix.size());
      return span.name;
    case SpanEvent::Kind::node:
      return span.name;
    case SpanEvent::Kind::model_call:
      if (span.call)
        return (span.call->operation.empty() ? std::string("chat") : span.call->operation) + " " +
               span.call->model;
      return span.name;
    case SpanEvent::Kind::grant_wait:
      return "grant_wait " + span.name;
    default: // item, attempt, backoff: "summarise item"
      return span.name + " " + std::string(to_string(span.kind));
  }
}

void model_call_attributes(Writer& w, const ModelCallEvent& call) {
  w.attribute("gen_ai.operation.name", call.operation.empty() ? "chat" : call.operation);
  w.attribute("gen_ai.provider.name",
              call.provider_kind.empty() ? call.provider : call.provider_kind);
  w.attribute("actorflow.provider", call.provider); // the name the node code called it by
  w.attribute("gen_ai.request.model", call.model);
  if (!call.response_model.empty())
    w.attribute("gen_ai.response.model", call.response_model);
  if (!call.error) {
    w.attribute("gen_ai.usage.input_tokens", static_cast<std::int64_t>(call.usage.prompt_tokens));
    w.attribute("gen_ai.usage.output_tokens",
                static_cast<std::int64_t>(call.usage.completion_tokens));
    if (call.usage.cached_tokens > 0)
      w.attribute("gen_ai.usage.cache_read.input_tokens",
                  static_cast<std::int64_t>(call.usage.cached_tokens));
  }
  if (!call.finish_reason.empty())
    w.string_list("gen_ai.response.finish_reasons", call.finish_reason);
  if (call.batched)
    w.attribute("actorflow.model_call.batched", "true");
}

void write_span(Writer& w, const QueuedSpan& queued, bool error_messages) {
  const auto& trace = *queued.trace;
  const auto& span = queued.span;
  w.raw("{\"traceId\":\"");
  w.raw(to_hex(trace.trace_id));
  w.raw("\",\"spanId\":\"");
  w.raw(to_hex(trace.span_id(span.id)));
  w.raw("\"");
  if (const auto parent = trace.span_id(span.parent); parent != 0) {
    w.raw(",\"parentSpanId\":\"");
    w.raw(to_hex(parent));
    w.raw("\"");
  }
  w.raw(",\"name\":");
  w.quoted(name_of(span));
  w.raw(",\"kind\":");
  w.number(span.kind == SpanEvent::Kind::model_call ? kind_client : kind_internal);
  w.raw(",\"startTimeUnixNano\":");
  w.long_string(unix_nanos(trace, span.start));
  w.raw(",\"endTimeUnixNano\":");
  w.long_string(unix_nanos(trace, span.start + span.duration));
  w.begin_attributes();
  w.attribute("actorflow.span.kind", to_string(span.kind));
  if (span.kind == SpanEvent::Kind::flow && span.parent == 0)
    w.attribute("actorflow.run.id", trace.run_id);
  if (span.kind != SpanEvent::Kind::flow && span.kind != SpanEvent::Kind::grant_wait &&
      span.kind != SpanEvent::Kind::model_call)
    w.attribute("actorflow.node.path", span.name);
  if (span.item)
    w.attribute("actorflow.item.index", static_cast<std::int64_t>(*span.item));
  if (span.attempt != 0)
    w.attribute("actorflow.attempt", static_cast<std::int64_t>(span.attempt));
  if (is_tool_call(span)) {
    w.attribute("gen_ai.operation.name", "execute_tool");
    w.attribute("gen_ai.tool.name", std::string_view(span.name).substr(tool_flow_prefix.size()));
    w.attribute("gen_ai.tool.type", "function");
  }
  if (span.kind == SpanEvent::Kind::model_call && span.call)
    model_call_attributes(w, *span.call);
  if (span.error)
    w.attribute("error.type", to_string(span.error->code));
  w.end_attributes();
  if (span.error) {
    w.raw(",\"status\":{\"code\":");
    w.number(status_error);
    w.raw(",\"message\":");
    w.quoted(error_messages ? std::string_view(span.error->message) : to_string(span.error->code));
    w.raw("}");
  }
  w.raw("}");
}

} // namespace

std::string otlp_request_json(const std::vector<QueuedSpan>& spans, const OtlpConfig& config) {
  std::string out;
  out.reserve(256 + spans.size() * 420);
  Writer w{out};
  w.raw("{\"resourceSpans\":[{\"resource\":{");
  w.begin_attributes(false);
  w.attribute("service.name", config.service_name);
  w.attribute("telemetry.sdk.name", "actorflow");
  w.attribute("telemetry.sdk.language", "cpp");
  for (const auto& [key, value] : config.resource)
    if (key != "service.name")
      w.foreign_attribute(key, value);
  w.end_attributes();
  w.raw("},\"scopeSpans\":[{\"scope\":{\"name\":\"actorflow\"},\"spans\":[");
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i != 0)
      w.raw(",");
    write_span(w, spans[i], config.export_error_messages);
  }
  w.raw("]}]}]}");
  return out;
}

} // namespace actorflow::detail
