// OpenTelemetry export against a loopback receiver (receiver.mjs) that decodes every request
// with OpenTelemetry's own protobuf definitions from npm (tools/otlp): a run's spans arrive
// whole, in one trace, each under its parent, with the GenAI attributes on model and tool
// calls; a host's traceparent is honoured; 503 answers are retried; a collector that never
// answers neither holds up the run nor the shutdown, and every span it did not take is
// counted. Plus the settings read from the environment. Skipped, saying so, where Node.js
// or the npm package is missing.
#include <actorflow/actorflow.hpp>

#include "observe/otlp_settings.hpp"
#include "observe/otlp_trace.hpp"
#include "subprocess.hpp" // tools/
#include "support/test_support.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::filesystem::path modules = OTLP_NODE_MODULES;

bool receiver_available() {
  static const bool available =
      std::system("node --version >/dev/null 2>&1") == 0 &&
      std::filesystem::exists(modules / "@opentelemetry/otlp-transformer/build/src/generated");
  if (!available)
    MESSAGE("skipped: Node.js or @opentelemetry/otlp-transformer is missing (tools/setup "
            "installs it in tools/otlp when npm is there)");
  return available;
}

/// receiver.mjs in `mode` on 127.0.0.1, for as long as this object lives.
struct Receiver {
  tools::Subprocess process;
  int port = 0;

  static Receiver start(const std::string& mode) {
    auto child = must(tools::Subprocess::start(
        {"/usr/bin/env", "node", OTLP_RECEIVER_SCRIPT, modules.string(), mode}));
    auto line = child.read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), "the receiver printed no port");
    return Receiver{std::move(child), std::stoi(*line)};
  }
  [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port); }
  [[nodiscard]] json summary() const {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10, 0);
    auto answer = client.Get("/summary");
    REQUIRE(answer);
    REQUIRE(answer->status == 200);
    return json::parse(answer->body);
  }
};

RuntimeConfig exporting_to(const std::string& endpoint) {
  auto config = two_workers();
  config.otlp.endpoint = endpoint;
  config.otlp.delay = 20ms; // small batches soon, so that several requests are made
  config.otlp.max_batch = 16;
  return config;
}

/// Six items, each a chat call on the local model; item 1 fails its first attempt (a retry),
/// item 4 fails for good after its call ("broken item 4").
class Items : public ParallelBatchNode {
public:
  explicit Items(std::shared_ptr<std::atomic<bool>> flaked)
      : ParallelBatchNode(BatchOptions{.max_concurrency = 3}), flaked_(std::move(flaked)) {
    set_retry_policy({.max_attempts = 2, .initial_backoff = Millis{1}});
  }
  Value prep(const State&) override {
    std::vector<Value> prompts;
    for (int i = 0; i < 6; ++i)
      prompts.emplace_back("summarise part " + std::to_string(i));
    return Value(std::move(prompts));
  }
  Task<Value> exec(Value prompt, Context& ctx) override {
    const auto index = *ctx.item_index();
    if (index == 1 && !flaked_->exchange(true))
      throw Failure(Error{Errc::unavailable, "flaky item 1"});
    auto text = prompt.as_string();
    auto reply = co_await ctx.llm("local").chat(text);
    if (index == 4)
      throw Failure(Error{Errc::bad_input, "broken item 4"});
    co_return reply.value().text;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    state = state.with("failed", Value(static_cast<std::int64_t>(result.summary.failed)));
    return std::string(default_action);
  }

private:
  std::shared_ptr<std::atomic<bool>> flaked_; // item 1's first attempt has failed
};

/// The batch, then an agent that calls the host's tool "alpha".
Flow batch_then_agent() {
  AgentOptions agent;
  agent.tools = ToolBox(std::vector<Tool>{make_tool("alpha", "answers alpha", Value::object({}),
                                                    [](const Value&) { return Value("alpha!"); })});
  return must(FlowBuilder("nightly")
                  .node("summarise", [flaked = std::make_shared<std::atomic<bool>>(
                                          false)] { return std::make_unique<Items>(flaked); })
                  .node("agent", agent_node(agent))
                  .edge("summarise", "agent")
                  .build());
}

/// The spans a run reported to its host, by id.
struct SeenSpans {
  std::mutex mutex;
  std::map<std::uint64_t, SpanEvent> by_id;
  std::function<void(const SpanEvent&)> hook() {
    return [this](const SpanEvent& span) {
      std::lock_guard lock{mutex};
      by_id.emplace(span.id, span);
    };
  }
};

std::map<std::string, json> by_span_id(const json& summary) {
  std::map<std::string, json> spans;
  for (const auto& span : summary["spans"])
    spans.emplace(span["spanId"].get<std::string>(), span);
  return spans;
}

} // namespace

TEST_CASE("otlp: a run's spans arrive whole, in one trace, each under its parent") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("ok");
  SeenSpans seen;
  OtlpStats stats;
  {
    Runtime runtime{exporting_to(receiver.endpoint())};
    RunOptions options;
    options.on_span = seen.hook();
    auto run =
        runtime.run(batch_then_agent(), State{}.with("prompt", "Ask alpha."), std::move(options));
    REQUIRE(run.wait_for(60s));
    auto result = must(run.get());
    CHECK(result.state.at("failed") == Value(1));
    runtime.shutdown(); // sends what is queued
    stats = runtime.otlp_stats();
  }
  const auto summary = receiver.summary();
  INFO(summary["errors"].dump());
  CHECK(summary["errors"].empty());
  const auto spans = by_span_id(summary);
  REQUIRE(spans.size() == seen.by_id.size());
  CHECK(stats.exported == seen.by_id.size());
  CHECK(stats.dropped == 0);
  CHECK(stats.failed == 0);
  CHECK(summary["requests"].get<std::uint64_t>() == stats.requests);
  CHECK(stats.requests > 1); // batches of at most 16

  std::set<std::string> traces;
  std::size_t roots = 0;
  std::map<std::string, std::size_t> kinds;
  for (const auto& [id, span] : spans) {
    traces.insert(span["traceId"].get<std::string>());
    CHECK(span["service"] == "actorflow");
    CHECK(span["start"].get<std::string>() <= span["end"].get<std::string>());
    const auto& attributes = span["attributes"];
    ++kinds[attributes["actorflow.span.kind"].get<std::string>()];
    const auto parent = span["parentSpanId"].get<std::string>();
    if (parent.empty()) {
      ++roots;
      CHECK(span["name"] == "nightly");
      CHECK(attributes.contains("actorflow.run.id"));
    } else {
      INFO(span.dump());
      CHECK(spans.contains(parent)); // every parent was exported too
    }
  }
  CHECK(traces.size() == 1);
  CHECK(roots == 1);
  CHECK(kinds["item"] == 6);
  CHECK(kinds["attempt"] >= 7); // six items, one retried, and the nodes' own attempts
  CHECK(kinds["backoff"] == 1);

  // Model calls: CLIENT spans with the GenAI attributes, named "{operation} {model}".
  std::size_t model_calls = 0;
  std::size_t tool_calls = 0;
  for (const auto& [id, span] : spans) {
    const auto& a = span["attributes"];
    if (a["actorflow.span.kind"] == "model_call") {
      ++model_calls;
      CHECK(span["kind"] == 3);
      CHECK(span["name"] == "chat local");
      CHECK(a["gen_ai.operation.name"] == "chat");
      CHECK(a["gen_ai.provider.name"] == "local");
      CHECK(a["gen_ai.request.model"] == "local");
      CHECK(a["gen_ai.response.model"] == "local");
      CHECK(a["gen_ai.usage.input_tokens"].get<int>() > 0);
      CHECK(a["gen_ai.usage.output_tokens"].get<int>() > 0);
      REQUIRE(a["gen_ai.response.finish_reasons"].is_array());
      CHECK(a["gen_ai.response.finish_reasons"].size() == 1);
      // Under an attempt of its item or its node.
      const auto& parent = spans.at(span["parentSpanId"].get<std::string>());
      CHECK(parent["attributes"]["actorflow.span.kind"] == "attempt");
    }
    if (a.contains("gen_ai.tool.name")) {
      ++tool_calls;
      CHECK(span["name"] == "execute_tool alpha");
      CHECK(a["gen_ai.operation.name"] == "execute_tool");
      CHECK(a["gen_ai.tool.name"] == "alpha");
    }
    CHECK_FALSE(a.contains("gen_ai.input.messages")); // no prompt text leaves the process
  }
  CHECK(model_calls == 6 + 2); // six items (item 1 once: it failed before its call), two turns
  CHECK(tool_calls == 1);

  // The broken item: its error as error.type and an error status.
  std::size_t broken = 0;
  for (const auto& [id, span] : spans)
    if (span["attributes"]["actorflow.span.kind"] == "item" &&
        span["attributes"]["actorflow.item.index"] == 4) {
      ++broken;
      CHECK(span["name"] == "summarise item");
      CHECK(span["status"]["code"] == 2);
      CHECK(contains(span["status"]["message"].get<std::string>(), "broken item 4"));
      CHECK(span["attributes"]["error.type"] == "bad_input");
    }
  CHECK(broken == 1);
}

TEST_CASE("otlp: a host's traceparent puts the run in the host's trace, under its span") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("ok");
  {
    Runtime runtime{exporting_to(receiver.endpoint())};
    RunOptions options;
    options.trace_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto flow =
        must(FlowBuilder("hosted").node("only", step_node([](State&) { return "done"; })).build());
    must(runtime.run(flow, State{}, std::move(options)).get());

    RunOptions broken;
    broken.trace_parent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    auto refused = runtime.run(flow, State{}, std::move(broken)).get();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::bad_input);
    CHECK(contains(refused.error().message, "trace_parent"));
    CHECK(contains(refused.error().message, "hex"));
  }
  const auto summary = receiver.summary();
  REQUIRE(summary["spans"].size() >= 2);
  for (const auto& span : summary["spans"]) {
    CHECK(span["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736");
    if (span["name"] == "hosted")
      CHECK(span["parentSpanId"] == "00f067aa0ba902b7");
  }
}

TEST_CASE("otlp: 503 answers are retried after Retry-After, and nothing is lost") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("503:2");
  OtlpStats stats;
  std::size_t reported = 0;
  {
    auto config = exporting_to(receiver.endpoint());
    config.otlp.max_batch = 512; // one batch: the two 503s are its first two tries
    config.otlp.delay = 5ms;
    Runtime runtime{std::move(config)};
    SeenSpans seen;
    RunOptions options;
    options.on_span = seen.hook();
    must(runtime.run(batch_then_agent(), State{}.with("prompt", "Ask alpha."), std::move(options))
             .get());
    runtime.shutdown();
    stats = runtime.otlp_stats();
    reported = seen.by_id.size();
  }
  const auto summary = receiver.summary();
  CHECK(summary["answered_503"] == 2);
  CHECK(summary["spans"].size() == reported);
  CHECK(stats.exported == reported);
  CHECK(stats.retries >= 2);
  CHECK(stats.dropped == 0);
  CHECK(stats.failed == 0);
}

TEST_CASE("otlp: a collector that never answers holds up neither the run nor the shutdown") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("stall");
  OtlpStats stats;
  std::size_t reported = 0;
  std::chrono::steady_clock::duration shutdown_took{};
  {
    auto config = exporting_to(receiver.endpoint());
    config.otlp.max_queue = 32; // fills at once: the rest is dropped
    config.otlp.max_batch = 8;
    config.otlp.delay = 1ms;
    config.otlp.timeout = 60s; // the request in flight would wait that long
    config.otlp.shutdown_timeout = 200ms;
    Runtime runtime{std::move(config)};
    SeenSpans seen;
    RunOptions options;
    options.on_span = seen.hook();
    auto run =
        runtime.run(batch_then_agent(), State{}.with("prompt", "Ask alpha."), std::move(options));
    REQUIRE(run.wait_for(60s)); // the run ends while the collector holds its first request
    must(run.get());
    const auto before = std::chrono::steady_clock::now();
    runtime.shutdown();
    shutdown_took = std::chrono::steady_clock::now() - before;
    stats = runtime.otlp_stats();
    reported = seen.by_id.size();
  }
  // Bounded by shutdown_timeout plus libcurl's progress tick (at most a second): not 60 s.
  CHECK(shutdown_took < 10s);
  CHECK(stats.exported == 0);
  CHECK(stats.dropped + stats.failed == reported); // every span is accounted for
  CHECK(stats.dropped > 0);
  CHECK(receiver.summary()["requests"].get<int>() >= 1);
}

TEST_CASE("otlp: settings from the environment, as OpenTelemetry's SDKs read them") {
  using detail::resolve_otlp;
  auto env_of = [](std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
      auto it = vars.find(name);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  };
  // Nothing set: export is off.
  CHECK_FALSE(must(resolve_otlp({}, env_of({}))).has_value());
  // The generic endpoint gets /v1/traces; the traces endpoint is used as it is.
  auto generic =
      must(resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"}})));
  REQUIRE(generic);
  CHECK(generic->url == "http://c:4318/v1/traces");
  CHECK(generic->config.service_name == "actorflow");
  CHECK(generic->config.timeout == 10s);
  auto own = must(
      resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                               {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t/x"},
                               {"OTEL_SERVICE_NAME", "billing"},
                               {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                               {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=se%20cret, tenant = t1"}})));
  REQUIRE(own);
  CHECK(own->url == "http://t/x");
  CHECK(own->config.service_name == "billing");
  CHECK(own->config.timeout == 2500ms);
  CHECK(own->config.headers.at("api-key") == "se cret");
  CHECK(own->config.headers.at("tenant") == "t1");
  // The config's own settings win; the SDK switched off silences the environment only.
  OtlpConfig mine;
  mine.endpoint = "https://collector.example:4318";
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
  // Wrong settings are errors naming the setting.
  auto grpc = resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://c:4317"}}));
  REQUIRE_FALSE(grpc.ok());
  CHECK(contains(grpc.error().message, "OTEL_EXPORTER_OTLP_ENDPOINT"));
  auto header = resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"},
                                         {"OTEL_EXPORTER_OTLP_HEADERS", "x"}}));
  REQUIRE_FALSE(header.ok());
  CHECK(contains(header.error().message, "OTEL_EXPORTER_OTLP_HEADERS"));
  auto timeout = resolve_otlp({}, env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"},
                                          {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}}));
  REQUIRE_FALSE(timeout.ok());
  CHECK(contains(timeout.error().message, "soon"));
}

TEST_CASE("otlp: W3C traceparents are read strictly, and span ids stay distinct") {
  auto parent =
      must(detail::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK(detail::to_hex(parent.trace_id) == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(detail::to_hex(parent.span_id) == "00f067aa0ba902b7");
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"}) {
    INFO(bad);
    CHECK_FALSE(detail::parse_traceparent(bad).ok());
  }
  auto trace = detail::new_trace("r", parent);
  CHECK(trace->span_id(0) == parent.span_id); // the root's parent is the host's span
  std::set<std::uint64_t> ids;
  for (std::uint64_t local = 1; local <= 100000; ++local)
    ids.insert(trace->span_id(local));
  CHECK(ids.size() == 100000);
  CHECK_FALSE(ids.contains(0));
  auto other = detail::new_trace("r");
  CHECK(other->trace_id != trace->trace_id);
  CHECK(other->span_id(0) == 0);
}

TEST_CASE("otlp: what an item does on a cluster node joins the run's trace, under its attempt") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("ok");
  // The node process exports to the same collector, configured as any OpenTelemetry program
  // is: through its environment (set here only while it starts).
  ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint().c_str(), 1);
  ::setenv("OTEL_SERVICE_NAME", "actorflow-node", 1);
  auto node = tools::ListeningChild::start(ACTORFLOW_CLI, "node", {"--workers", "1"});
  ::unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  ::unsetenv("OTEL_SERVICE_NAME");
  REQUIRE_MESSAGE(node.ok(), (node.ok() ? "" : node.error().message));
  {
    auto config = exporting_to(receiver.endpoint());
    config.cluster.nodes.push_back("127.0.0.1:" + std::to_string(node->port));
    config.cluster.local_capacity = 0; // every item on the node
    must(register_stock_nodes(config.nodes));
    Runtime runtime{std::move(config)};
    Array texts;
    for (int i = 0; i < 4; ++i)
      texts.emplace_back("The node summarises text number " + std::to_string(i) + ". It is short.");
    auto flow = must(FlowBuilder("clustered").registered_node("batch", "summarise").build());
    auto state = must(runtime.run(flow, State{}.with("items", std::move(texts))).get()).state;
    CHECK(state.at("failed") == Value(0));
    runtime.shutdown();
  }
  node->process.signal(SIGTERM); // its Runtime's shutdown sends what it has queued
  REQUIRE(node->process.wait_exit(30s));

  const auto summary = receiver.summary();
  INFO(summary["errors"].dump());
  CHECK(summary["errors"].empty());
  const auto spans = by_span_id(summary);
  std::size_t on_node = 0;
  for (const auto& [id, span] : spans) {
    if (span["service"] != "actorflow-node" ||
        span["attributes"]["actorflow.span.kind"] != "model_call")
      continue;
    ++on_node;
    INFO(span.dump());
    const auto parent_id = span["parentSpanId"].get<std::string>();
    REQUIRE(spans.contains(parent_id));
    const auto& attempt = spans.at(parent_id);
    CHECK(attempt["service"] == "actorflow"); // this process's attempt span ...
    CHECK(attempt["attributes"]["actorflow.span.kind"] == "attempt");
    CHECK(attempt["traceId"] == span["traceId"]); // ... in the same trace
    CHECK(attempt["attributes"]["actorflow.item.index"] ==
          span["attributes"]["actorflow.item.index"]);
  }
  CHECK(on_node == 4);
}
