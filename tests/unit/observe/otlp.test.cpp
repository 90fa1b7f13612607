// The OpenTelemetry exporter's parts, without Node.js: its settings from the environment,
// W3C traceparents and span ids, the JSON it writes, and its accounting against an in-process
// stub collector (refusals, partial successes, a full queue, a shutdown that will not wait).
// tests/integration/otlp decodes real requests with OpenTelemetry's own definitions.
#include <actorflow/actorflow.hpp>

#include "observe/otlp_exporter.hpp"
#include "observe/otlp_json.hpp"
#include "observe/otlp_settings.hpp"
#include "observe/otlp_trace.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

auto env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

/// A collector on 127.0.0.1 that answers each request with the next of `answers` (the last
/// one again once they run out), and counts what it got.
class StubCollector {
public:
  struct Answer {
    int status = 200;
    std::string body = "{}";
    std::string retry_after{};
  };

  explicit StubCollector(std::vector<Answer> answers) : answers_(std::move(answers)) {
    server_.Post("/v1/traces", [this](const httplib::Request& request, httplib::Response& out) {
      Answer answer;
      {
        std::lock_guard lock{mutex_};
        answer = answers_[std::min(requests_, answers_.size() - 1)];
        ++requests_;
        spans_ += json::parse(request.body)["resourceSpans"][0]["scopeSpans"][0]["spans"].size();
      }
      arrived_.notify_all();
      out.status = answer.status;
      if (!answer.retry_after.empty())
        out.set_header("Retry-After", answer.retry_after);
      out.set_content(answer.body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~StubCollector() {
    server_.stop();
    thread_.join();
  }
  StubCollector(const StubCollector&) = delete;
  StubCollector& operator=(const StubCollector&) = delete;

  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces";
  }
  /// Waits (at most 20 s) until `n` requests have arrived.
  bool wait_requests(std::size_t n) {
    std::unique_lock lock{mutex_};
    return arrived_.wait_for(lock, 20s, [&] { return requests_ >= n; });
  }
  [[nodiscard]] std::size_t spans() {
    std::lock_guard lock{mutex_};
    return spans_;
  }

private:
  std::vector<Answer> answers_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::size_t requests_ = 0; // guarded by mutex_
  std::size_t spans_ = 0;    // guarded by mutex_
};

std::shared_ptr<detail::OtlpExporter> exporter_to(const std::string& url, OtlpConfig config) {
  config.timeout = config.timeout.count() > 0 ? config.timeout : 10s;
  config.service_name = "test";
  return std::make_shared<detail::OtlpExporter>(detail::OtlpSettings{std::move(config), url, {}});
}

SpanEvent node_span(std::uint64_t id, std::uint64_t parent) {
  SpanEvent span;
  span.kind = SpanEvent::Kind::node;
  span.name = "outer/summarise";
  span.id = id;
  span.parent = parent;
  span.start = 1500ns;
  span.duration = 2500ns;
  return span;
}

} // namespace

TEST_CASE("otlp: settings from the environment, as OpenTelemetry's SDKs read them") {
  using detail::resolve_otlp;
  // Nothing set: export is off.
  CHECK_FALSE(must(resolve_otlp({}, env_of({}))).has_value());
  // The generic endpoint gets /v1/traces; the traces endpoint is used as it is.
  auto generic =
      must(resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"}})));
  REQUIRE(generic);
  CHECK(generic->url == "http://c:4318/v1/traces");
  CHECK(generic->config.service_name == "actorflow");
  CHECK(generic->config.timeout == 10s);
  auto own = must(resolve_otlp(
      {}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                  {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t/x"},
                  {"OTEL_SERVICE_NAME", "billing"},
                  {"OTEL_RESOURCE_ATTRIBUTES", "service.name=other,deployment.environment=prod"},
                  {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                  {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                  {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=se%20cret, tenant = t1"}})));
  REQUIRE(own);
  CHECK(own->url == "http://t/x");
  CHECK(own->config.service_name == "billing"); // OTEL_SERVICE_NAME over the resource's
  CHECK(own->config.resource.at("deployment.environment") == "prod");
  CHECK(own->config.timeout == 2500ms);
  CHECK(own->config.headers.at("api-key") == "se cret");
  CHECK(own->config.headers.at("tenant") == "t1");
  CHECK(own->warnings.empty());
  // The config's own settings win; the SDK switched off silences the environment only; a
  // full URL in the config is taken as it is.
  OtlpConfig mine;
  mine.endpoint = "https://collector.example:4318/v1/traces";
  mine.headers["api-key"] = "mine";
  auto config_wins =
      must(resolve_otlp(mine, env_of({{"OTEL_SDK_DISABLED", "true"},
                                      {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=env"}})));
  REQUIRE(config_wins);
  CHECK(config_wins->url == "https://collector.example:4318/v1/traces");
  CHECK(config_wins->config.headers.at("api-key") == "mine");
  CHECK_FALSE(must(resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"},
                                            {"OTEL_TRACES_EXPORTER", "none"}})))
                  .has_value());
  // A timeout that is not a number is ignored, with a warning.
  auto timeout = must(resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"},
                                               {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}})));
  REQUIRE(timeout);
  CHECK(timeout->config.timeout == 10s);
  REQUIRE(timeout->warnings.size() == 1);
  CHECK(contains(timeout->warnings[0], "'soon'"));
  // Wrong settings are errors naming the setting.
  auto grpc = resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://c:4317"}}));
  REQUIRE_FALSE(grpc.ok());
  CHECK(contains(grpc.error().message, "OTEL_EXPORTER_OTLP_ENDPOINT"));
  auto protocol = resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"},
                                           {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}));
  REQUIRE_FALSE(protocol.ok());
  CHECK(contains(protocol.error().message, "OTEL_EXPORTER_OTLP_PROTOCOL"));
  auto header = resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"},
                                         {"OTEL_EXPORTER_OTLP_HEADERS", "x"}}));
  REQUIRE_FALSE(header.ok());
  CHECK(contains(header.error().message, "OTEL_EXPORTER_OTLP_HEADERS"));
  OtlpConfig spinning;
  spinning.endpoint = "http://c";
  spinning.delay = 0ms;
  CHECK_FALSE(resolve_otlp(spinning, env_of({})).ok());
}

TEST_CASE("otlp: W3C traceparents are read strictly, and span ids stay distinct") {
  auto parent =
      must(detail::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK(detail::to_hex(parent.trace_id) == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(detail::to_hex(parent.span_id) == "00f067aa0ba902b7");
  CHECK(parent.sampled);
  CHECK_FALSE(
      must(detail::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"))
          .sampled);
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}) {
    INFO(bad);
    CHECK_FALSE(detail::parse_traceparent(bad).ok());
  }
  auto trace = detail::new_trace("r", parent);
  CHECK(trace->span_id(0) == parent.span_id); // the root's parent is the host's span
  CHECK(detail::traceparent_of(*trace, 7) ==
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + detail::to_hex(trace->span_id(7)) + "-01");
  std::set<std::uint64_t> ids;
  for (std::uint64_t local = 1; local <= 100000; ++local)
    ids.insert(trace->span_id(local));
  CHECK(ids.size() == 100000);
  CHECK_FALSE(ids.contains(0));
  auto other = detail::new_trace("r");
  CHECK(other->trace_id != trace->trace_id);
  CHECK(other->span_id(0) == 0);
}

TEST_CASE("otlp: the JSON body, as protobuf's JSON mapping and the GenAI conventions want it") {
  auto trace = detail::new_trace("nightly-1");
  SpanEvent root;
  root.kind = SpanEvent::Kind::flow;
  root.name = "nightly";
  root.id = 1;
  SpanEvent call;
  call.kind = SpanEvent::Kind::model_call;
  call.name = "fast/gpt-x";
  call.id = 2;
  call.parent = 1;
  call.item = 3;
  call.attempt = 2;
  auto facts = std::make_shared<ModelCallEvent>();
  facts->provider = "fast";
  facts->provider_kind = "openai";
  facts->model = "gpt-x";
  facts->operation = "chat";
  facts->response_model = "gpt-x-2026";
  facts->finish_reason = "length";
  facts->usage = Usage{120, 30, 150, 100};
  call.call = facts;
  SpanEvent tool;
  tool.kind = SpanEvent::Kind::flow;
  tool.name = "tool:lookup";
  tool.id = 3;
  tool.parent = 1;
  tool.error = Error{Errc::bad_input, "the answer quoted: secret words"};

  OtlpConfig config;
  config.service_name = "svc";
  config.resource["deployment.environment"] = "prod";
  const auto body =
      json::parse(detail::otlp_request_json({{trace, root}, {trace, call}, {trace, tool}}, config));
  const auto& resource = body["resourceSpans"][0]["resource"]["attributes"];
  std::map<std::string, std::string> resource_attributes;
  for (const auto& a : resource)
    resource_attributes[a["key"]] = a["value"]["stringValue"];
  CHECK(resource_attributes.at("service.name") == "svc");
  CHECK(resource_attributes.at("deployment.environment") == "prod");
  const auto& spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"];
  REQUIRE(spans.size() == 3);
  auto attributes = [](const json& span) {
    std::map<std::string, json> out;
    for (const auto& a : span["attributes"])
      out[a["key"]] = a["value"];
    return out;
  };
  // Ids in hex, times as decimal strings, the root without a parent.
  CHECK(spans[0]["traceId"].get<std::string>().size() == 32);
  CHECK(spans[0]["spanId"] == detail::to_hex(trace->span_id(1)));
  CHECK_FALSE(spans[0].contains("parentSpanId"));
  CHECK(spans[0]["startTimeUnixNano"].is_string());
  CHECK(attributes(spans[0]).at("actorflow.run.id")["stringValue"] == "nightly-1");
  // The model call: a CLIENT span named "{operation} {model}".
  CHECK(spans[1]["name"] == "chat gpt-x");
  CHECK(spans[1]["kind"] == 3);
  CHECK(spans[1]["parentSpanId"] == detail::to_hex(trace->span_id(1)));
  auto a = attributes(spans[1]);
  CHECK(a.at("gen_ai.provider.name")["stringValue"] == "openai");
  CHECK(a.at("actorflow.provider")["stringValue"] == "fast");
  CHECK(a.at("gen_ai.request.model")["stringValue"] == "gpt-x");
  CHECK(a.at("gen_ai.response.model")["stringValue"] == "gpt-x-2026");
  CHECK(a.at("gen_ai.usage.input_tokens")["intValue"] == "120");
  CHECK(a.at("gen_ai.usage.output_tokens")["intValue"] == "30");
  CHECK(a.at("gen_ai.usage.cache_read.input_tokens")["intValue"] == "100");
  CHECK(a.at("gen_ai.response.finish_reasons")["arrayValue"]["values"][0]["stringValue"] ==
        "length");
  CHECK(a.at("actorflow.item.index")["intValue"] == "3");
  CHECK(a.at("actorflow.attempt")["intValue"] == "2");
  // The tool call; its error by type only, unless messages are asked for.
  CHECK(spans[2]["name"] == "execute_tool lookup");
  CHECK(attributes(spans[2]).at("gen_ai.tool.name")["stringValue"] == "lookup");
  CHECK(attributes(spans[2]).at("error.type")["stringValue"] == "bad_input");
  CHECK(spans[2]["status"]["code"] == 2);
  CHECK(spans[2]["status"]["message"] == "bad_input");
  CHECK_FALSE(contains(body.dump(), "secret words"));
  config.export_error_messages = true;
  const auto told = json::parse(detail::otlp_request_json({{trace, tool}}, config));
  CHECK(told["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["status"]["message"] ==
        "the answer quoted: secret words");
}

TEST_CASE("otlp: refusals, partial successes and retries are counted") {
  SUBCASE("a 400 drops the batch, counted as failed, with the answer in last_error") {
    StubCollector collector({{400, R"({"message":"bad"})", ""}});
    auto exporter = exporter_to(collector.url(), {});
    auto trace = detail::new_trace("r");
    for (std::uint64_t id = 1; id <= 3; ++id)
      exporter->add(trace, node_span(id, 0));
    exporter->shutdown();
    const auto stats = exporter->stats();
    CHECK(stats.failed == 3);
    CHECK(stats.exported == 0);
    CHECK(stats.retries == 0);
    CHECK(contains(stats.last_error, "400"));
  }
  SUBCASE("a partial success counts its rejected spans as failed") {
    StubCollector collector(
        {{200, R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}})", ""}});
    auto exporter = exporter_to(collector.url(), {});
    auto trace = detail::new_trace("r");
    for (std::uint64_t id = 1; id <= 5; ++id)
      exporter->add(trace, node_span(id, 0));
    exporter->shutdown();
    const auto stats = exporter->stats();
    CHECK(stats.exported == 3);
    CHECK(stats.failed == 2);
    CHECK(contains(stats.last_error, "too old"));
  }
  SUBCASE("429 with Retry-After is retried after it, not after the backoff") {
    StubCollector collector({{429, "", "1"}, {200, "{}", ""}});
    OtlpConfig config;
    config.first_backoff = std::chrono::hours{1}; // a retry by the backoff would never come
    config.shutdown_timeout = 30s;
    auto exporter = exporter_to(collector.url(), config);
    exporter->add(detail::new_trace("r"), node_span(1, 0));
    REQUIRE(collector.wait_requests(2));
    exporter->shutdown();
    const auto stats = exporter->stats();
    CHECK(stats.exported == 1);
    CHECK(stats.retries == 1);
    CHECK(stats.requests == 2);
    CHECK(collector.spans() == 2); // the same span, twice
  }
  SUBCASE("retries spent: failed") {
    StubCollector collector({{503, "", "0"}});
    OtlpConfig config;
    config.max_retries = 2;
    auto exporter = exporter_to(collector.url(), config);
    exporter->add(detail::new_trace("r"), node_span(1, 0));
    REQUIRE(collector.wait_requests(3));
    exporter->shutdown();
    const auto stats = exporter->stats();
    CHECK(stats.failed == 1);
    CHECK(stats.retries == 2);
    CHECK(contains(stats.last_error, "503"));
  }
}

TEST_CASE("otlp: a full queue drops what comes, and shutdown does not wait past its time") {
  // The first request is told to come back in an hour: the sender waits, the queue fills.
  StubCollector collector({{503, "", "3600"}});
  OtlpConfig config;
  config.max_queue = 4;
  config.shutdown_timeout = 0ms;
  auto exporter = exporter_to(collector.url(), config);
  auto trace = detail::new_trace("r");
  exporter->add(trace, node_span(1, 0));
  REQUIRE(collector.wait_requests(1));
  for (std::uint64_t id = 2; id <= 11; ++id)
    exporter->add(trace, node_span(id, 0));
  CHECK(exporter->stats().dropped == 6); // 4 fit
  const auto before = std::chrono::steady_clock::now();
  exporter->shutdown();
  CHECK(std::chrono::steady_clock::now() - before < 10s); // not the hour
  const auto stats = exporter->stats();
  CHECK(stats.dropped == 11); // the waiting batch and the queue too
  CHECK(stats.exported == 0);
  CHECK(stats.failed == 0);
  // Later spans (a model call ending after shutdown) are counted, and go nowhere.
  exporter->add(trace, node_span(12, 0));
  CHECK(exporter->stats().dropped == 12);
}

TEST_CASE("otlp: a span that ends after its exporter is gone goes nowhere") {
  auto exporter = exporter_to("http://127.0.0.1:9/v1/traces", {});
  auto hook = exporter->hook(detail::new_trace("r"));
  exporter->shutdown();
  exporter.reset();
  hook(node_span(1, 0)); // would be a use after free under ASan if the hook held it raw
  CHECK_FALSE(exporter);
}
