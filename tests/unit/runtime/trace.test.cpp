// Spans, the Chrome trace file, the run report and the progress bar, on a virtual clock: a flow
// with a nested flow and a parallel batch whose items wait for rate-limited model calls and
// retry, traced end to end; what a report sums up from a known run; what the bar prints.
#include <actorflow/actorflow.hpp>
#include <actorflow/testing.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;
using std::chrono::nanoseconds;

namespace {

/// Answers at once, on the caller's thread, with a fixed usage.
class InstantProvider final : public ModelProvider {
public:
  std::string_view kind() const noexcept override { return "instant"; }
  std::string default_model() const override { return "instant-1"; }
  void chat(ChatRequest, ChatDone done) override {
    ChatResponse r;
    r.text = "ok";
    r.finish_reason = "stop";
    r.usage = Usage{10, 5, 15};
    done(ModelOutcome<ChatResponse>(std::move(r)));
  }
  void embed(EmbedRequest, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(Error{Errc::bad_request, "instant: no embeddings"}));
  }
};

/// Which items have failed once already: shared by every item's fresh node instance.
struct FailedOnce {
  std::mutex mutex;
  std::set<std::size_t> items;
  /// True the first time `item` asks.
  bool first(std::size_t item) {
    std::lock_guard lock{mutex};
    return items.insert(item).second;
  }
};

/// Per item: fails its first attempt when it is `flaky` (before calling the model), calls the
/// model, sleeps `(index + 1) * sleep_unit`, then fails for good when it is `broken`.
class ChatItems : public ParallelBatchNode {
public:
  struct Script {
    std::optional<std::size_t> flaky;
    std::optional<std::size_t> broken;
    std::chrono::milliseconds sleep_unit{0};
    std::shared_ptr<FailedOnce> failed = std::make_shared<FailedOnce>();
  };
  ChatItems(std::size_t window, Script script)
      : ParallelBatchNode(BatchOptions{.max_concurrency = window}), script_(std::move(script)) {}

  Value prep(const State& s) override { return s.at("prompts"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto index = *ctx.item_index();
    if (script_.flaky == index && script_.failed->first(index))
      throw Failure(Error{Errc::unavailable, "flaky item, first attempt"});
    auto reply = co_await ctx.llm("instant").chat(prompt.as_string());
    if (script_.sleep_unit.count() > 0)
      co_await ctx.sleep(script_.sleep_unit * static_cast<int>(index + 1));
    if (script_.broken == index)
      throw Failure(Error{Errc::bad_input, "broken item"});
    co_return reply.value().text;
  }

private:
  Script script_;
};

/// A single node whose first attempt fails (a node instance serves all its attempts).
class FlakyOnce : public Node {
public:
  Task<Value> exec(Value, Context&) override {
    if (calls_++ == 0)
      throw Failure(Error{Errc::unavailable, "first attempt fails"});
    co_return Value("done");
  }

private:
  int calls_ = 0;
};

State prompts(std::size_t n) {
  Array out;
  for (std::size_t i = 0; i < n; ++i)
    out.emplace_back("prompt " + std::to_string(i));
  return State{}.with("prompts", std::move(out));
}

RetryPolicy fixed_backoff(std::chrono::milliseconds delay) {
  return RetryPolicy{.max_attempts = 2, .initial_backoff = delay, .jitter = Jitter::none};
}

RuntimeConfig config_with(std::shared_ptr<testing::VirtualClock> clock, Limits limits,
                          std::string trace_file = {}) {
  RuntimeConfig config = two_workers();
  config.clock = std::move(clock);
  config.models.add("instant", std::make_shared<InstantProvider>());
  config.limits["instant"] = limits;
  config.trace_file = std::move(trace_file);
  return config;
}

/// outer: prepare → inner (a nested flow: the batch "chat", 4 items, window 2, item 1 fails its
/// first attempt and retries after 200 ms) → finish (fails its first attempt, retries after
/// 500 ms).
Flow traced_flow() {
  ChatItems::Script script{.flaky = 1, .broken = std::nullopt, .sleep_unit = 0ms};
  auto inner = must(FlowBuilder("inner")
                        .node("chat", [script] { return std::make_unique<ChatItems>(2, script); })
                        .retry("chat", fixed_backoff(200ms))
                        .build());
  return must(FlowBuilder("outer")
                  .node("prepare", step_node([](State&) { return std::string(default_action); }))
                  .node("inner", inner)
                  .node("finish", [] { return std::make_unique<FlakyOnce>(); })
                  .edge("prepare", "inner")
                  .edge("inner", "finish")
                  .retry("finish", fixed_backoff(500ms))
                  .build());
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("actorflow-trace-test-" + std::to_string(::getpid()) + "-" + name);
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = nlohmann::json::parse(text.str(), nullptr, false);
  REQUIRE_MESSAGE(!parsed.is_discarded(), "not JSON: " << path);
  return parsed;
}

std::vector<SpanEvent> of_kind(const std::vector<SpanEvent>& spans, SpanEvent::Kind kind) {
  std::vector<SpanEvent> out;
  std::copy_if(spans.begin(), spans.end(), std::back_inserter(out),
               [&](const SpanEvent& s) { return s.kind == kind; });
  return out;
}

/// Every parent exists, every child lies within its parent, ids are unique and never 0, and
/// there is exactly one root: a flow.
void check_tree(const std::vector<SpanEvent>& spans) {
  std::map<std::uint64_t, const SpanEvent*> by_id;
  for (const auto& s : spans) {
    CHECK(s.id != 0);
    CHECK_MESSAGE(by_id.emplace(s.id, &s).second, "duplicate id " << s.id);
  }
  std::size_t roots = 0;
  for (const auto& s : spans) {
    if (s.parent == 0) {
      ++roots;
      CHECK(s.kind == SpanEvent::Kind::flow);
      continue;
    }
    auto it = by_id.find(s.parent);
    REQUIRE_MESSAGE(it != by_id.end(), to_string(s.kind) << " '" << s.name << "' has no parent");
    const auto& p = *it->second;
    CHECK_MESSAGE(s.start >= p.start, s.name << " starts before its parent " << p.name);
    CHECK_MESSAGE(s.start + s.duration <= p.start + p.duration,
                  to_string(s.kind) << " '" << s.name << "' ends after its parent "
                                    << to_string(p.kind) << " '" << p.name << "'");
  }
  CHECK(roots == 1);
}

} // namespace

TEST_CASE("a traced run: spans form a tree on the virtual clock, and the trace file parses") {
  auto clock = std::make_shared<testing::VirtualClock>();
  Runtime runtime{config_with(clock, Limits{.requests_per_minute = 60})};
  auto writer = std::make_shared<TraceWriter>();
  std::vector<SpanEvent> hooked;
  std::mutex hooked_mutex;
  std::vector<ModelCallEvent> calls;
  RunOptions options;
  options.trace = writer;
  options.on_span = [&](const SpanEvent& span) {
    std::lock_guard lock{hooked_mutex};
    hooked.push_back(span);
  };
  options.on_model_call = [&](const ModelCallEvent& call) {
    std::lock_guard lock{hooked_mutex};
    calls.push_back(call);
  };
  auto run = runtime.run(traced_flow(), prompts(4), std::move(options));
  auto result = drive(run, *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());

  auto spans = writer->spans();
  {
    std::lock_guard lock{hooked_mutex};
    CHECK(hooked.size() == spans.size()); // the hook and the writer see the same spans
  }
  check_tree(spans);

  SUBCASE("one span per flow run, node execution, item, attempt, backoff, wait and call") {
    auto flows = of_kind(spans, SpanEvent::Kind::flow);
    REQUIRE(flows.size() == 2);
    auto nodes = of_kind(spans, SpanEvent::Kind::node);
    std::multiset<std::string> node_names;
    for (const auto& n : nodes)
      node_names.insert(n.name);
    CHECK(node_names == std::multiset<std::string>{"prepare", "inner/chat", "finish"});
    CHECK(of_kind(spans, SpanEvent::Kind::item).size() == 4);
    // prepare 1, finish 2, items 4 + 1 retry.
    CHECK(of_kind(spans, SpanEvent::Kind::attempt).size() == 8);
    CHECK(of_kind(spans, SpanEvent::Kind::grant_wait).size() == 4);
    CHECK(of_kind(spans, SpanEvent::Kind::model_call).size() == 4);
    // The nested flow lies under the outer one, its batch node under it.
    const auto& root =
        *std::find_if(flows.begin(), flows.end(), [](const SpanEvent& f) { return f.parent == 0; });
    CHECK(root.name == "outer");
    const auto& inner =
        *std::find_if(flows.begin(), flows.end(), [](const SpanEvent& f) { return f.parent != 0; });
    CHECK(inner.name == "inner");
    CHECK(inner.parent == root.id);
    for (const auto& n : nodes)
      CHECK(n.parent == (n.name == "inner/chat" ? inner.id : root.id));
    // The failed attempts carry their error; the others none.
    std::size_t failed = 0;
    for (const auto& a : of_kind(spans, SpanEvent::Kind::attempt))
      if (a.error) {
        ++failed;
        CHECK(a.error->code == Errc::unavailable);
        CHECK(a.attempt == 1);
      }
    CHECK(failed == 2);
  }

  SUBCASE("backoffs last as long as the policy says, on the virtual clock") {
    auto backoffs = of_kind(spans, SpanEvent::Kind::backoff);
    REQUIRE(backoffs.size() == 2);
    std::map<std::string, nanoseconds> by_node;
    for (const auto& b : backoffs) {
      by_node[b.name] = b.duration;
      CHECK(b.attempt == 2); // the attempt it is the wait for
    }
    CHECK(by_node["inner/chat"] == 200ms);
    CHECK(by_node["finish"] == 500ms);
    for (const auto& b : backoffs)
      if (b.name == "inner/chat")
        CHECK(b.item == std::optional<std::size_t>(1));
  }

  SUBCASE("grant waits: one call a second at 60 requests per minute") {
    // Asked at 0 (items 0, then 2 when 0 is done), 0.2 s (item 1's retry) and 1 s (item 3,
    // when item 2 is done); granted at 0, 1, 2 and 3 s.
    std::vector<nanoseconds> waits, grants;
    for (const auto& w : of_kind(spans, SpanEvent::Kind::grant_wait)) {
      CHECK(w.name == "instant/instant-1");
      CHECK(w.item.has_value());
      waits.push_back(w.duration);
      grants.push_back(w.start + w.duration);
    }
    std::sort(waits.begin(), waits.end());
    std::sort(grants.begin(), grants.end());
    // Relative to the run's start, which is when the root flow started here (virtual time
    // does not move before the first timer).
    CHECK(waits == std::vector<nanoseconds>{0s, 1s, 1800ms, 2s});
    CHECK(grants == std::vector<nanoseconds>{0s, 1s, 2s, 3s});
    // The controller measured the same waits.
    std::vector<nanoseconds> measured;
    {
      std::lock_guard lock{hooked_mutex};
      for (const auto& c : calls)
        measured.push_back(c.waited);
    }
    std::sort(measured.begin(), measured.end());
    CHECK(measured == waits);
    // Each model call starts when its wait ends, inside the same attempt.
    for (const auto& call : of_kind(spans, SpanEvent::Kind::model_call)) {
      auto waits_before = of_kind(spans, SpanEvent::Kind::grant_wait);
      auto wait = std::find_if(waits_before.begin(), waits_before.end(),
                               [&](const SpanEvent& w) { return w.parent == call.parent; });
      REQUIRE(wait != waits_before.end());
      CHECK(call.start == wait->start + wait->duration);
      CHECK(!call.error);
    }
  }

  SUBCASE("the Chrome trace file: X events with ids, parents and times in microseconds") {
    auto path = temp_path("run.json");
    REQUIRE(writer->write(path.string()).ok());
    auto json = read_json(path);
    std::filesystem::remove(path);
    REQUIRE(json.contains("traceEvents"));
    std::map<std::uint64_t, nlohmann::json> events;
    std::set<std::string> rows;
    for (const auto& e : json["traceEvents"]) {
      if (e["ph"] == "M") {
        if (e["name"] == "thread_name")
          rows.insert(e["args"]["name"].get<std::string>());
        continue;
      }
      CHECK(e["ph"] == "X");
      CHECK(e["pid"] == run.id());
      events.emplace(e["args"]["id"].get<std::uint64_t>(), e);
    }
    CHECK(events.size() == spans.size());
    CHECK(rows.count("flow") == 1);
    CHECK(rows.count("items 1") == 1);
    CHECK(rows.count("items 3") == 0); // a window of 2: two rows of items
    for (const auto& [id, e] : events) {
      auto parent = e["args"]["parent"].get<std::uint64_t>();
      if (parent == 0)
        continue;
      REQUIRE(events.count(parent) == 1);
      const auto& p = events[parent];
      double eps = 0.0005; // the file has microseconds with three decimals
      CHECK(e["ts"].get<double>() + eps >= p["ts"].get<double>());
      CHECK(e["ts"].get<double>() + e["dur"].get<double>() <=
            p["ts"].get<double>() + p["dur"].get<double>() + eps);
      // What runs inside an item stays on the item's row.
      if (p["cat"] != "node" && p["cat"] != "flow")
        CHECK(e["tid"] == p["tid"]);
    }
    // A backoff of 200 ms is 200000 microseconds.
    auto backoff = std::find_if(events.begin(), events.end(), [](const auto& kv) {
      return kv.second["cat"] == "backoff" && kv.second["args"].contains("item");
    });
    REQUIRE(backoff != events.end());
    CHECK(backoff->second["dur"].get<double>() == doctest::Approx(200000.0));
  }
}

TEST_CASE("RuntimeConfig::trace_file holds every run, written when each run ends") {
  auto clock = std::make_shared<testing::VirtualClock>();
  auto path = temp_path("runtime.json");
  std::filesystem::remove(path);
  {
    Runtime runtime{config_with(clock, Limits{.requests_per_minute = 60}, path.string())};
    auto first = runtime.run(traced_flow(), prompts(2));
    REQUIRE(drive(first, *clock).ok());
    // Written before the handle completed.
    auto after_first = read_json(path);
    std::set<std::uint64_t> pids;
    for (const auto& e : after_first["traceEvents"])
      pids.insert(e["pid"].get<std::uint64_t>());
    CHECK(pids == std::set<std::uint64_t>{first.id()});

    auto second = runtime.run(traced_flow(), prompts(2));
    REQUIRE(drive(second, *clock).ok());
    auto after_second = read_json(path);
    pids.clear();
    std::set<std::string> processes;
    double second_root_ts = -1;
    for (const auto& e : after_second["traceEvents"]) {
      pids.insert(e["pid"].get<std::uint64_t>());
      if (e["name"] == "process_name")
        processes.insert(e["args"]["name"].get<std::string>());
      if (e["ph"] == "X" && e["pid"] == second.id() && e["args"]["parent"] == 0)
        second_root_ts = e["ts"].get<double>();
    }
    CHECK(pids == std::set<std::uint64_t>{first.id(), second.id()});
    CHECK(processes.count("run " + std::to_string(first.id()) + ": outer") == 1);
    // One time axis: the second run starts after the first (the Runtime's start is 0).
    CHECK(second_root_ts > 0);
  }
  CHECK(std::filesystem::exists(path)); // rewritten at shutdown too
  std::filesystem::remove(path);
}

TEST_CASE("without on_span, trace and trace_file, a run reports no spans and writes nothing") {
  auto clock = std::make_shared<testing::VirtualClock>();
  Runtime runtime{config_with(clock, Limits{.requests_per_minute = 60})};
  std::atomic<int> attempts{0};
  RunOptions options;
  options.on_attempt = [&](const AttemptEvent&) { ++attempts; };
  auto untraced = runtime.run(traced_flow(), prompts(4), std::move(options));
  // A traced run at the same time sees only its own spans, numbered from 1.
  auto writer = std::make_shared<TraceWriter>();
  auto traced = runtime.run(traced_flow(), prompts(1), RunOptions{.trace = writer});
  REQUIRE(drive(untraced, *clock).ok());
  REQUIRE(drive(traced, *clock).ok());
  CHECK(attempts > 0); // the other hooks still work
  auto spans = writer->spans();
  check_tree(spans);
  std::uint64_t max_id = 0;
  for (const auto& s : spans)
    max_id = std::max(max_id, s.id);
  CHECK(max_id == spans.size()); // ids 1..n: nothing was numbered for the untraced run
  for (const auto& s : spans)
    CHECK((!s.item || *s.item == 0)); // the traced run has one item; the other run had four
}

TEST_CASE("a cancelled run still closes its flow and node spans") {
  auto clock = std::make_shared<testing::VirtualClock>();
  Runtime runtime{config_with(clock, Limits{.requests_per_minute = 60})};
  auto writer = std::make_shared<TraceWriter>();
  ChatItems::Script script{.flaky = std::nullopt, .broken = std::nullopt, .sleep_unit = 1000ms};
  auto flow = must(FlowBuilder("slow")
                       .node("chat", [script] { return std::make_unique<ChatItems>(4, script); })
                       .build());
  // The host's hook next to the writer: it must hear nothing once the run has ended.
  auto host_spans = std::make_shared<std::atomic<std::size_t>>(0);
  auto run = runtime.run(
      flow, prompts(4),
      RunOptions{.on_span = [host_spans](const SpanEvent&) { ++*host_spans; }, .trace = writer});
  REQUIRE(clock->wait_for_pending(1)); // items are asleep (or waiting for their grant)
  run.cancel();
  auto result = run.get();
  REQUIRE_FALSE(result.ok());
  const std::size_t heard_by_host = *host_spans;
  // The node actor stops after the root (its link carries the exit): wait for its span, and
  // for the items' spans, which the batch ends as it stops (their attempts first): the batch
  // and its node actor stop in either order, and an item may have reported a grant wait
  // inside its attempt before either did.
  REQUIRE(eventually([&] {
    const auto spans = writer->spans();
    return of_kind(spans, SpanEvent::Kind::node).size() == 1 &&
           of_kind(spans, SpanEvent::Kind::item).size() == 4;
  }));
  // Whether the node's span came before or after the end is a race; after it, only the
  // writer may get it.
  CHECK(*host_spans == heard_by_host);
  auto spans = writer->spans();
  check_tree(spans); // the parents of what ended are there
  CHECK(of_kind(spans, SpanEvent::Kind::item).size() == 4);
  auto flows = of_kind(spans, SpanEvent::Kind::flow);
  REQUIRE(flows.size() == 1);
  REQUIRE(flows[0].error);
  CHECK(flows[0].error->code == Errc::cancelled);
  auto nodes = of_kind(spans, SpanEvent::Kind::node);
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].error);
}

TEST_CASE("a TraceWriter keeps odd names valid JSON and packs items onto rows") {
  TraceWriter writer;
  auto span = [](SpanEvent::Kind kind, std::uint64_t id, std::uint64_t parent, nanoseconds start,
                 nanoseconds duration, std::optional<std::size_t> item = std::nullopt) {
    SpanEvent s;
    s.kind = kind;
    s.name = "n\"ode\\ \x01 \xff";
    s.id = id;
    s.parent = parent;
    s.start = start;
    s.duration = duration;
    s.item = item;
    return s;
  };
  writer.record(span(SpanEvent::Kind::flow, 1, 0, 0ms, 100ms));
  writer.record(span(SpanEvent::Kind::node, 2, 1, 0ms, 100ms));
  // Three items, window 2: the third takes the row the first left.
  writer.record(span(SpanEvent::Kind::item, 3, 2, 0ms, 10ms, 0));
  writer.record(span(SpanEvent::Kind::item, 4, 2, 0ms, 50ms, 1));
  writer.record(span(SpanEvent::Kind::item, 5, 2, 10ms, 30ms, 2));
  writer.record(span(SpanEvent::Kind::attempt, 6, 5, 10ms, 30ms, 2));
  auto err = span(SpanEvent::Kind::model_call, 7, 6, 12ms, 5ms, 2);
  err.error = Error{Errc::bad_response, "garbled \xc3"};
  writer.record(err);
  auto json = nlohmann::json::parse(writer.to_json(), nullptr, false);
  REQUIRE_FALSE(json.is_discarded());
  std::map<std::uint64_t, int> tid;
  for (const auto& e : json["traceEvents"])
    if (e["ph"] == "X")
      tid[e["args"]["id"].get<std::uint64_t>()] = e["tid"].get<int>();
  CHECK(tid[1] == 1);
  CHECK(tid[2] == 1);
  CHECK(tid[3] == 2);
  CHECK(tid[4] == 3);
  CHECK(tid[5] == 2);
  CHECK(tid[6] == 2); // inside item 2: its row
  CHECK(tid[7] == 2);
  CHECK(writer.size() == 7);
  CHECK_FALSE(writer.write("/nonexistent-dir/trace.json").ok());
}

// -- the report -----------------------------------------------------------------------------------

TEST_CASE("a RunReport sums up a known run") {
  auto clock = std::make_shared<testing::VirtualClock>();
  Runtime runtime{config_with(clock, Limits{.requests_per_minute = 60})};
  // 4 items, one at a time: item i calls the model, sleeps (i + 1) * 100 ms; item 2 fails its
  // first attempt at once and retries after 50 ms; item 3 fails for good after its sleep.
  ChatItems::Script script{.flaky = 2, .broken = 3, .sleep_unit = 100ms};
  auto flow = must(FlowBuilder("report")
                       .node("work", [script] { return std::make_unique<ChatItems>(1, script); })
                       .retry("work", fixed_backoff(50ms))
                       .build());
  ReportCollector collector;
  auto run = runtime.run(flow, prompts(4), collector.options());
  auto result = drive(run, *clock);
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  auto report = collector.report(result);

  // Grants on a 1 s grid. Item 0: asks and is granted at 0, ends at 0.1 s. Item 1: asks at
  // 0.1 s, granted at 1 s, ends at 1.2 s. Item 2: fails at 1.2 s, asks again at 1.25 s,
  // granted at 2 s, ends at 2.3 s. Item 3: asks at 2.3 s, granted at 3 s, fails at 3.4 s.
  CHECK(report.flow == "report");
  CHECK_FALSE(report.error);
  CHECK(report.wall == 3400ms);
  CHECK(report.items == 4);
  CHECK(report.failed_items == 1);
  CHECK(report.node_runs == 1);
  CHECK(report.failed_node_runs == 0);
  CHECK(report.retries == 1);
  CHECK(report.failed_attempts == 2);
  CHECK(report.usage.calls == 4);
  CHECK(report.usage.total_tokens() == 60);
  CHECK(report.grant_waits.count == 4);
  CHECK(report.waited_calls == 3);
  CHECK(report.grant_waits.total == 2350ms); // 0 + 0.9 + 0.75 + 0.7
  CHECK(report.grant_waits.p50 == 700ms);
  CHECK(report.grant_waits.p99 == 900ms);
  CHECK(report.grant_waits.max == 900ms);
  CHECK(report.throughput == doctest::Approx(4.0 / 3.4));
  REQUIRE(report.nodes.size() == 1);
  const auto& work = report.nodes[0];
  CHECK(work.node == "work");
  CHECK(work.batch);
  CHECK(work.executions == 1);
  CHECK(work.items == 4);
  CHECK(work.failed == 1);
  CHECK(work.latency.p50 == 1100ms); // 0.1, 1.1, 1.1 and 1.1 s
  CHECK(work.latency.p90 == 1100ms);
  CHECK(work.latency.max == 1100ms);
  CHECK(work.latency.total == 3400ms);

  auto text = report.to_text();
  CHECK(text.find("run 'report': ok, wall 3.40 s") != std::string::npos);
  CHECK(text.find("1.10 s") != std::string::npos);
  CHECK(text.back() == '\n');
  auto value = report.to_value();
  CHECK(value.at("items").as_int() == 4);
  CHECK(value.at("wall_ms").as_double() == doctest::Approx(3400.0));
  CHECK(value.at("grant_waits").at("p99_ms").as_double() == doctest::Approx(900.0));
  CHECK(value.at("nodes").at(std::size_t{0}).at("latency").at("p50_ms").as_double() ==
        doctest::Approx(1100.0));
  CHECK(value.at("model_calls").at("total_tokens").as_int() == 60);
}

TEST_CASE("LatencySummary uses nearest ranks") {
  auto l = LatencySummary::of({4ms, 1ms, 3ms, 2ms});
  CHECK(l.count == 4);
  CHECK(l.total == 10ms);
  CHECK(l.p50 == 2ms);
  CHECK(l.p90 == 4ms);
  CHECK(l.max == 4ms);
  CHECK(LatencySummary::of({}).count == 0);
}

// -- the progress bar ----------------------------------------------------------------------------

namespace {

/// A FILE* whose text can be read back.
struct Capture {
  std::FILE* file = std::tmpfile();
  ~Capture() { std::fclose(file); }
  std::string text() {
    std::fflush(file);
    std::rewind(file);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file)) > 0)
      out.append(buf, n);
    return out;
  }
};

/// A clock the test moves.
struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  std::function<std::chrono::steady_clock::time_point()> fn() {
    return [this] { return now; };
  }
};

BatchProgress progress(std::size_t done, std::size_t failed = 0, bool finished = false) {
  BatchProgress p;
  p.node = "outer/summarise";
  p.done = done;
  p.failed = failed;
  p.total = 100;
  p.finished = finished;
  return p;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("ProgressBar without a terminal: a plain line every few seconds and one at the end") {
  Capture out;
  FakeClock clock;
  ProgressBar bar(out.file, ProgressBarOptions{.tty = false, .clock = clock.fn()});
  CHECK_FALSE(bar.tty());
  bar.update(progress(10));
  clock.now += 1s;
  bar.update(progress(20)); // too soon for a line
  clock.now += 5s;
  bar.update(progress(60, 2));
  clock.now += 1s;
  bar.update(progress(100, 3, true));
  auto text = out.text();
  CHECK(count(text, "\n") == 2);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.find("\x1b") == std::string::npos);
  CHECK(text.find("outer/summarise: 60/100 (60%) items, 2 errors, 8.3/s, ETA 0:05\n") !=
        std::string::npos);
  CHECK(text.find("outer/summarise: finished 100/100 (100%) items, 3 errors") != std::string::npos);
  bar.finish(); // nothing left to print
  CHECK(count(out.text(), "\n") == 2);
}

TEST_CASE("ProgressBar on a terminal: redrawn in place, throttled, ended with a newline") {
  Capture out;
  FakeClock clock;
  ProgressBar bar(out.file, ProgressBarOptions{.tty = true, .bar_width = 10, .clock = clock.fn()});
  CHECK(bar.tty());
  bar.update(progress(10));
  for (int i = 0; i < 5; ++i) { // 50 ms apart: one redraw at most per 100 ms
    clock.now += 50ms;
    bar.update(progress(11 + static_cast<std::size_t>(i)));
  }
  clock.now += 1s;
  bar.update(progress(50, 1));
  auto middle = out.text();
  CHECK(count(middle, "\r") == 4); // the first event, two throttled redraws, the last
  CHECK(middle.find('\n') == std::string::npos);
  CHECK(middle.find("outer/summarise [#####.....] 50/100 50%") != std::string::npos);
  CHECK(middle.find("1 error") != std::string::npos);
  CHECK(middle.find("ETA") != std::string::npos);
  clock.now += 10ms;
  bar.update(progress(100, 1, true)); // the last event is drawn at once
  auto text = out.text();
  CHECK(count(text, "\r") == 5);
  CHECK(text.find("[##########] 100/100 100%") != std::string::npos);
  CHECK(text.find("done in") != std::string::npos);
  CHECK(text.back() == '\n');
  CHECK(count(text, "\n") == 1);
}

TEST_CASE("ProgressBar on a terminal: two batches at once are two lines, redrawn together") {
  Capture out;
  FakeClock clock;
  ProgressBar bar(out.file, ProgressBarOptions{.tty = true, .clock = clock.fn()});
  auto other = progress(5);
  other.node = "other";
  bar.update(progress(10));
  bar.update(other);
  clock.now += 200ms;
  bar.update(progress(20));
  auto text = out.text();
  CHECK(text.find("\x1b[1A") != std::string::npos); // back up to the block's first line
  CHECK(count(text, "\n") == 2);                    // one between the lines, drawn twice
  bar.finish();                                     // left as they are, with a newline
  CHECK(out.text().back() == '\n');
}
