// A canary API key goes through everything a run leaves behind, and appears in none of it: the
// final State, every event (items, nodes, the run's end), attempts and model calls, the
// report, the Chrome trace, `Context::log` lines, the checkpoint store with its batch journal,
// and the errors of a server that echoes the key back (OpenAI's 401 does). Against a real
// `actorflow sim` process; the online and the batch provider both.
#include <actorflow/actorflow.hpp>

#include "support/ask_each.hpp"
#include "support/sim_process.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

using namespace actorflow;
using namespace actorflow::test;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

const std::string canary = "sk-canary-5e3c81f7d2a94b06";

/// Everything a run's watchers were told, as text.
class Witness {
public:
  RunOptions options(const std::string& run_id) {
    RunOptions watch;
    watch.run_id = run_id;
    watch.stream = StreamMode::debug;
    watch.on_event = [this](const RunEvent& event) { add(describe(event)); };
    watch.on_attempt = [this](const AttemptEvent& e) { add(e.node + ": " + e.error.to_string()); };
    watch.on_model_call = [this](const ModelCallEvent& call) {
      add(call.provider + "/" + call.model + ": " + (call.error ? call.error->to_string() : ""));
    };
    watch.on_progress = [this](const BatchProgress& p) { add(p.node); };
    return collector_.options(std::move(watch));
  }
  std::function<void(std::string_view)> log() {
    return [this](std::string_view line) { add(std::string(line)); };
  }
  void add(std::string text) {
    std::lock_guard lock(mutex_);
    seen_ += text;
    seen_ += '\n';
  }
  [[nodiscard]] std::string report(const Result<RunResult>& result) const {
    return collector_.report(result).to_text();
  }
  [[nodiscard]] std::string seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

private:
  static std::string describe(const RunEvent& event) {
    std::string out(kind_name(event));
    out += " " + event.node + ": ";
    if (const auto* item = std::get_if<ItemFinished>(&event.body)) {
      if (const auto* error = std::get_if<Error>(&item->result))
        out += error->to_string();
      else
        out += to_json(std::get<Value>(item->result));
    } else if (const auto* node = std::get_if<NodeFinished>(&event.body)) {
      out += node->action + (node->error ? " " + node->error->to_string() : "");
      out += to_json(Value(node->changes));
    } else if (const auto* end = std::get_if<RunFinished>(&event.body)) {
      out += end->error ? end->error->to_string() : to_json(end->state.to_value());
    }
    return out;
  }

  ReportCollector collector_;
  std::mutex mutex_;
  std::string seen_;
};

/// A node that logs the error its model call got, as node code would.
class LogErrors : public ParallelBatchNode {
public:
  LogErrors() : ParallelBatchNode(BatchOptions{.max_concurrency = 64}) {}
  Value prep(const State& s) override { return s.at("prompts"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto reply = co_await ctx.llm("batch").chat(ChatRequest::user(prompt.as_string()));
    if (!reply)
      ctx.log("the model call failed: " + reply.error().to_string());
    co_return reply ? Value(reply->text) : Value(reply.error().message);
  }
};

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Every file under `dir`, as bytes (the store, its WAL, the trace).
std::string files_under(const std::filesystem::path& dir) {
  std::string out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file())
      out += file_text(entry.path());
  return out;
}

/// Runs `flow` over `state` durably with `provider` as "batch" (made once the store in `dir`
/// is open, for a provider that journals in it), every output on, and returns all the text
/// the run left behind.
std::string everything_left(const std::function<ModelProviderPtr(CheckpointStorePtr)>& provider,
                            const Flow& flow, const State& state) {
  TempDir dir;
  auto store = must(open_checkpoint_store((dir.path() / "runs.db").string()));
  Witness witness;
  std::string left;
  {
    RuntimeConfig config;
    config.models.add("batch", provider(store));
    config.checkpoints = store;
    config.trace_file = (dir.path() / "trace.json").string();
    config.log = witness.log();
    Runtime runtime(std::move(config));
    const auto result = runtime.run(flow, state, witness.options("canary-run")).get();
    REQUIRE_MESSAGE(result.ok(), result.error().to_string());
    left += to_json(result->state.to_value()) + "\n" + witness.report(result);
  }
  store.reset(); // closed: its WAL is checkpointed into the file
  left += witness.seen() + files_under(dir.path());
  return left;
}

Flow log_errors_flow() {
  return must(
      FlowBuilder("logged").node("ask", [] { return std::make_unique<LogErrors>(); }).build());
}

} // namespace

TEST_CASE("a canary key appears nowhere a run leaves text, online or batched, even echoed") {
  SimProcess sim({"--api-key", canary, "--threads", "8"});
  SimProcess echoing({"--api-key", "sk-the-right-one"}); // its 401s quote the key they got
  auto config = sim_config(sim);
  config.api_key = canary;
  auto wrong = sim_config(echoing);
  wrong.api_key = canary;

  SUBCASE("online: answers, server faults and a server that echoes the key") {
    auto faulty = config;
    faulty.headers.emplace_back("x-sim-fault", "500");
    auto online = [](OpenAiConfig c) {
      return [c](CheckpointStorePtr) { return std::make_shared<OpenAiProvider>(c); };
    };
    for (const OpenAiConfig& c : {config, faulty, wrong}) {
      const std::string left = everything_left(online(c), log_errors_flow(), ask_prompts(6));
      CHECK_FALSE(contains(left, canary));
      CHECK(contains(left, "canary-run")); // the run did leave text behind
    }
    // The control: the echoing server's error did quote a key, and it was redacted.
    const std::string echoed = everything_left(online(wrong), log_errors_flow(), ask_prompts(2));
    CHECK(contains(echoed, "HTTP 401"));
    CHECK(contains(echoed, "[redacted]"));
  }

  SUBCASE("batched, with the journal in the store, failing lines and an echoing server") {
    for (const bool echoed : {false, true}) {
      auto batched = [c = echoed ? wrong : config](CheckpointStorePtr store) {
        OpenAiBatchOptions options;
        options.max_wait = 50ms;
        options.poll_initial = 5ms;
        options.poll_max = 20ms;
        options.submit_retries = 0;
        options.journal = std::move(store);
        return std::make_shared<OpenAiBatchProvider>(c, options);
      };
      const std::string left = everything_left(batched, log_errors_flow(), ask_prompts(6, 3));
      CHECK_FALSE(contains(left, canary));
      CHECK(contains(left, "canary-run"));
      if (echoed) { // the control: the upload's 401 quoted the key, redacted
        CHECK(contains(left, "HTTP 401"));
        CHECK(contains(left, "[redacted]"));
      }
    }
  }
}
