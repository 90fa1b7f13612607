// OpenTelemetry export against a loopback receiver (receiver.mjs) that decodes every request
// with OpenTelemetry's own protobuf definitions from npm (tools/otlp): a run's spans arrive
// whole, in one trace, each under its parent, with the GenAI attributes on model and tool
// calls, and nothing of what the model was asked; a host's traceparent is honoured; 503
// answers are retried after Retry-After; a collector that never answers neither holds up the
// run nor the shutdown, and every span it did not take is counted; a cluster node's spans
// join the trace. Skipped, saying so, where Node.js or the npm package is missing
// (tests/unit/observe tests the exporter's parts without them).
#include <actorflow/actorflow.hpp>

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
      CHECK(a["gen_ai.provider.name"] == "local"); // the local provider's kind
      CHECK(a["actorflow.provider"] == "local");
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
  }
  // Nothing the model was asked, nor what it or the tool answered, leaves the process.
  for (const char* text : {"summarise part", "Ask alpha", "alpha!", "[local model]"}) {
    INFO(text);
    CHECK_FALSE(contains(summary["spans"].dump(), text));
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
      CHECK(span["status"]["message"] == "bad_input"); // its message only when asked for
      CHECK(span["attributes"]["error.type"] == "bad_input");
    }
  CHECK(broken == 1);
}

TEST_CASE("otlp: a host's traceparent puts the run in the host's trace, under its span") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("ok");
  struct Log {
    std::mutex mutex;
    std::string text;
  };
  auto logged = std::make_shared<Log>();
  {
    auto config = exporting_to(receiver.endpoint());
    config.log = [logged](std::string_view line) {
      std::lock_guard lock{logged->mutex};
      logged->text.append(line).append("\n");
    };
    Runtime runtime{std::move(config)};
    RunOptions options;
    options.trace_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto flow = [](const char* name) {
      return must(FlowBuilder(name).node("only", step_node([](State&) { return "done"; })).build());
    };
    must(runtime.run(flow("hosted"), State{}, std::move(options)).get());
    // Flags 00: the host does not record its trace, so neither is this run exported.
    RunOptions unsampled;
    unsampled.trace_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    must(runtime.run(flow("unsampled"), State{}, std::move(unsampled)).get());
    // One that does not parse: logged, and the run is a trace of its own.
    RunOptions broken;
    broken.trace_parent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    must(runtime.run(flow("broken"), State{}, std::move(broken)).get());
    runtime.shutdown();
  }
  {
    std::lock_guard lock{logged->mutex};
    CHECK(contains(logged->text, "trace_parent"));
    CHECK(contains(logged->text, "starts a trace of its own"));
  }
  const auto summary = receiver.summary();
  std::set<std::string> roots;
  for (const auto& span : summary["spans"]) {
    const auto name = span["name"].get<std::string>();
    if (name == "hosted" || name == "unsampled" || name == "broken")
      roots.insert(name);
    if (name == "hosted") {
      CHECK(span["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736");
      CHECK(span["parentSpanId"] == "00f067aa0ba902b7");
    }
    if (name == "broken") {
      CHECK(span["traceId"] != "4bf92f3577b34da6a3ce929d0e0e4736");
      CHECK(span["parentSpanId"] == "");
    }
  }
  CHECK(roots == std::set<std::string>{"hosted", "broken"});
}

TEST_CASE("otlp: 503 answers are retried after Retry-After, and nothing is lost") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("503:2"); // Retry-After: 1
  OtlpStats stats;
  std::size_t reported = 0;
  {
    auto config = exporting_to(receiver.endpoint());
    config.otlp.first_backoff = std::chrono::hours{1}; // a retry by the backoff never comes
    config.otlp.shutdown_timeout = 30s;
    config.otlp.export_error_messages = true;
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
  CHECK(stats.retries == 2);
  // Asked for, error messages are exported.
  std::size_t broken = 0;
  for (const auto& span : summary["spans"])
    broken += contains(span["status"]["message"].get<std::string>(), "broken item 4") ? 1 : 0;
  CHECK(broken >= 1);
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

TEST_CASE("otlp: what an item does on a cluster node joins the run's trace, under its attempt") {
  if (!receiver_available())
    return;
  auto receiver = Receiver::start("ok");
  // The node process exports to the same collector, configured as any OpenTelemetry program
  // is: through its environment.
  auto node = must(tools::Subprocess::start({"/usr/bin/env",
                                             "OTEL_EXPORTER_OTLP_ENDPOINT=" + receiver.endpoint(),
                                             "OTEL_SERVICE_NAME=actorflow-node", ACTORFLOW_CLI,
                                             "node", "--port", "0", "--workers", "1"}));
  const auto listening = node.read_line(20s);
  REQUIRE_MESSAGE(listening.has_value(), "the node printed no port");
  const auto port = json::parse(*listening)["port"].get<int>();
  {
    auto config = exporting_to(receiver.endpoint());
    config.cluster.nodes.push_back("127.0.0.1:" + std::to_string(port));
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
  node.signal(SIGTERM); // its Runtime's shutdown sends what it has queued
  REQUIRE(node.wait_exit(30s));

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
