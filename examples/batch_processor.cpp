// The classic LLM batch job: one prompt per line of a file (or N synthetic review-classification
// prompts) through a parallel batch node, within request and token limits, each item with a
// timeout and retries (exponential backoff, jitter); a failed item never fails the batch. The
// answers come back in input order, failures grouped by error code, with throughput, tokens,
// 429s and the limiter's wait percentiles.
//
// Offline by default: the embedded `local` provider answers by fixed rules (it echoes or
// extracts text; no model runs). Run: build/release/examples/batch_processor [prompts.txt]
// [--items 500 --concurrency 32 --rpm 6000 --out answers.txt --trace run.json --report]; --help
// lists every option.
// Against `actorflow sim` (or any OpenAI-compatible server; limits apply to provider "openai"):
//   build/release/tools/actorflow sim --port 0 --rpm 600 --latency-ms 20   # prints the port
//   OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 build/release/examples/batch_processor --rpm 600
// Add --no-settle with --tpm against a server that counts max_tokens up front (OpenAI).
#include <actorflow/actorflow.hpp>
#include <actorflow/openai.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>

using namespace actorflow;
using namespace std::chrono_literals;

namespace {

// One chat call per prompt; an item whose call fails throws the call's error (Result::value),
// so its RetryPolicy sees the real code (rate_limited, server_error, timeout, ...).
class Answer : public ParallelBatchNode {
public:
  Answer(std::size_t window, std::uint32_t max_tokens)
      : ParallelBatchNode(
            BatchOptions{.max_concurrency = window, .policy = FailurePolicy::collect()}),
        max_tokens_(max_tokens) {}
  Value prep(const State& state) override { return state.at("prompts"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto request = ChatRequest::user(prompt.as_string());
    request.max_tokens = max_tokens_;
    auto reply = co_await ctx.llm().chat(std::move(request));
    co_return std::move(reply).value().text;
  }
  // Answers in input order (an item's error in place of a failed one), failures by code.
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array answers;
    Map errors; // code -> {count, first}
    for (const auto& item : result.items) {
      if (item.ok()) {
        answers.push_back(item.value());
        continue;
      }
      auto error = item.error();
      answers.emplace_back("ERROR " + error.to_string());
      auto& entry = errors[std::string(to_string(error.code))];
      if (entry.is_null())
        entry = Value::object(
            {{"count", 0}, {"first", "item " + std::to_string(item.index) + ": " + error.message}});
      auto& count = entry.as_map().at("count");
      count = count.as_int() + 1;
    }
    state = state.with({{"answers", std::move(answers)},
                        {"errors", std::move(errors)},
                        {"succeeded", result.summary.succeeded},
                        {"failed", result.summary.failed}});
    return std::string(default_action);
  }

private:
  std::uint32_t max_tokens_;
};

Array read_prompts(const std::string& path, std::size_t items) {
  Array prompts;
  if (path.empty()) {
    const char* reviews[] = {"Arrived broken and support never answered.",
                             "Does what it says, nothing more.",
                             "Best purchase this year, the battery lasts for days!",
                             "The manual is confusing but the product works fine."};
    for (std::size_t i = 0; i < (items ? items : 200); ++i)
      prompts.emplace_back("Classify the sentiment of review #" + std::to_string(i) +
                           " as positive, negative or neutral: " + reviews[i % 4]);
    return prompts;
  }
  std::ifstream in{path};
  for (std::string line; std::getline(in, line) && (!items || prompts.size() < items);)
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      prompts.emplace_back(line);
  return prompts;
}

double ms(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run a batch of prompts through a model within limits (see the file's header)"};
  std::string input, out;
  examples::Watching watch;
  std::size_t items = 0, window = 32;
  std::uint32_t max_tokens = 64;
  RetryPolicy retry{.max_attempts = 4}; // jitter: full
  std::int64_t backoff_ms = 200, max_backoff_ms = 5000, timeout_ms = 30000;
  Limits limits;
  bool graph = false;
  app.add_option("input", input, "Prompts, one per line (none: synthetic prompts)")
      ->check(CLI::ExistingFile);
  app.add_option("--items", items, "Items to process (0: every line, or 200 synthetic ones)");
  app.add_option("--concurrency", window, "Items in flight at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-tokens", max_tokens, "Most tokens per answer")->capture_default_str();
  app.add_option("--out", out, "Write the answers here, one per line in input order");
  watch.add_options(app);
  examples::add_graph_flag(app, graph);
  auto* retries = app.add_option_group("retries");
  retries->add_option("--attempts", retry.max_attempts, "Attempts per item (1: no retry)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  retries
      ->add_option("--backoff-ms", backoff_ms,
                   "Backoff after the first failure, doubled after each next one")
      ->capture_default_str();
  retries->add_option("--max-backoff-ms", max_backoff_ms, "Longest backoff")->capture_default_str();
  const std::map<std::string, Jitter> jitters{{"none", Jitter::none},
                                              {"full", Jitter::full},
                                              {"equal", Jitter::equal},
                                              {"decorrelated", Jitter::decorrelated}};
  // The name is checked (IsMember) before it becomes the enum value (transforms run last-added
  // first): CLI11's own messages would print a uint8_t enum's values as characters.
  retries->add_option("--jitter", retry.jitter, "Backoff randomisation")
      ->transform(CLI::Transformer(jitters).description(""))
      ->transform(CLI::IsMember(jitters))
      ->default_str("full");
  retries
      ->add_option("--timeout-ms", timeout_ms,
                   "Time limit of each attempt, waiting for the limiter included (0: none)")
      ->capture_default_str();
  auto* limit = app.add_option_group("limits", "Limits of the provider (0: none)");
  limit->add_option("--max-concurrent", limits.max_concurrent, "Model calls in flight at most");
  limit->add_option("--rpm", limits.requests_per_minute, "Requests per minute");
  limit->add_option("--tpm", limits.tokens_per_minute, "Tokens per minute (prompt + max_tokens)");
  limit->add_option("--run-tokens", limits.tokens_per_run, "Token budget of the whole batch");
  limit->add_flag_callback(
      "--no-settle", [&limits] { limits.settle_with_actual_usage = false; },
      "Count each call's tokens as reserved (prompt + max_tokens), not as used: for servers "
      "that count max_tokens up front (OpenAI); by default a call is corrected by its usage");
  examples::parse_or_exit(app, argc, argv);
  retry.initial_backoff = Millis{backoff_ms};
  retry.max_backoff = Millis{max_backoff_ms};
  retry.attempt_timeout = Millis{timeout_ms};
  auto flow = FlowBuilder("batch")
                  .node<Answer>("answer", window, max_tokens)
                  .retry("answer", retry)
                  .build();
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  if (examples::graph_printed(graph, *flow))
    return 0;

  // Declared before the Runtime, so they outlive its threads that call the callbacks.
  std::mutex mutex;                           // guards the tally and stderr's progress line
  std::map<std::string, int> failed_attempts; // every failed attempt, retried or not, by code
  auto config = examples::runtime_config_or_exit(watch.trace);
  const bool openai = config.models.contains("openai"); // OPENAI_BASE_URL is set
  std::string provider = openai ? "openai" : "local";
  if (openai)
    std::cout << "provider: openai (OPENAI_BASE_URL), model "
              << config.models.find(provider)->default_model() << "\n";
  else
    std::cout << "provider: local (offline; its answers are rule-based echoes and extracts, "
                 "not a model's)\n";
  config.limits[provider] = limits;
  Runtime runtime{std::move(config)};

  auto prompts = read_prompts(input, items);
  if (prompts.empty()) {
    std::cerr << "no prompts in " + input << "\n";
    return 1;
  }
  RunOptions options{.on_attempt = [&](const AttemptEvent& e) {
    if (e.kind != AttemptEvent::Kind::failed) // a timeout reports timed_out, then failed
      return;
    std::lock_guard lock{mutex};
    ++failed_attempts[std::string(to_string(e.error.code))];
  }};
  if (isatty(STDERR_FILENO))
    options.on_progress = [&](const BatchProgress& p) {
      std::lock_guard lock{mutex};
      std::cerr << "\r" << p.done << "/" << p.total.value_or(0) << " done, " << p.failed
                << " failed, " << p.in_flight << " in flight " << (p.finished ? "\n" : "")
                << std::flush;
    };
  auto start = std::chrono::steady_clock::now();
  options = watch.run_options(std::move(options)); // the report's hooks join the tally's

  auto result = runtime.run(*flow, State{}.with("prompts", prompts), std::move(options)).get();
  std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
  if (!result) {
    std::cerr << "run failed: " << result.error().to_string() << "\n";
    return 1;
  }

  const auto& answers = result->state.at("answers").as_array();
  std::ofstream file;
  if (!out.empty())
    file.open(out);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    auto line = answers[i].as_string();
    std::replace(line.begin(), line.end(), '\n', ' ');
    if (file.is_open())
      file << line << "\n";
    else if (i < 5)
      std::cout << "  #" << i << " " << examples::one_line(line, 110) << "\n";
  }
  auto ok = result->state.at("succeeded").as_int(), failed = result->state.at("failed").as_int();
  const auto& usage = result->usage;
  std::cout << std::fixed << std::setprecision(1)
            << (out.empty() ? "" : "answers written to " + out + "\n") << "items " << answers.size()
            << ", succeeded " << ok << ", failed " << failed << ", error rate "
            << 100.0 * static_cast<double>(failed) / static_cast<double>(answers.size())
            << "%, retries " << result->retries << "\nwall " << std::setprecision(3) << wall.count()
            << " s, " << std::setprecision(1) << static_cast<double>(answers.size()) / wall.count()
            << " items/s, " << usage.calls << " model calls (" << usage.failed_calls << " failed, "
            << usage.refused << " refused, " << usage.rate_limited << " 429s), tokens "
            << usage.total_tokens() << " (" << usage.prompt_tokens << " prompt + "
            << usage.completion_tokens << " completion)\n";
  for (const auto& [code, entry] : result->state.at("errors").as_map())
    std::cout << "  failed items, " << code << ": " << entry.as_map().at("count").as_int()
              << " (first: " << entry.as_map().at("first").as_string() << ")\n";
  for (const auto& [code, count] : failed_attempts)
    std::cout << "  failed attempts, " << code << ": " << count << "\n";
  for (const auto& s : runtime.limit_stats())
    std::cout << "limiter " << s.provider << "/" << s.model << ": " << s.granted << " granted, "
              << s.rate_limited << " 429s, wait p50 " << ms(s.wait_p50) << " ms, p90 "
              << ms(s.wait_p90) << " ms, p99 " << ms(s.wait_p99) << " ms, max " << ms(s.wait_max)
              << " ms\n";
  if (!watch.finish(result))
    return 1;
  return ok > 0 ? 0 : 1;
}
