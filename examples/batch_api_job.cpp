// The parallel summaries of a folder (one chat call per paragraph), run twice with the same
// node code: once online, once through the openai_batch provider (OpenAI's Batch API, half the
// price), and a table of wall time, calls, tokens and cost for each.
//
// Offline by default: it starts `actorflow sim` (--sim, by default the one built next to this
// example), whose Batch API answers a job after --delay-ms. With OPENAI_BASE_URL and
// OPENAI_API_KEY set it uses that server's real Batch API instead (a real job may take up to
// 24 hours; --max-paragraphs keeps it small). Prices: gpt-4o-mini's list prices, or --prices
// FILE (see actorflow/prices.hpp).
//
// Run: build/release/examples/batch_api_job [folder] [--max-paragraphs N] [--delay-ms D]
#include <actorflow/actorflow.hpp>
#include <actorflow/ingest.hpp>

#include "example_support.hpp"
#include "subprocess.hpp" // tools/: the sim as a child process

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

using namespace actorflow;

namespace {

// One call per paragraph, through the provider the state names: "online" or "batch".
class Summarise : public ParallelBatchNode {
public:
  // Every item in flight: online calls still keep to the provider's connections, and batch
  // calls must all be waiting for their job to be gathered into it.
  Summarise() : ParallelBatchNode(BatchOptions{.max_concurrency = 100'000}) {}
  Value prep(const State& state) override {
    Array items;
    for (const Value& text : state.at("texts").as_array())
      items.push_back(Value::object({{"text", text}, {"provider", state.at("provider")}}));
    return items;
  }
  Task<Value> exec(Value item, Context& ctx) override {
    ChatRequest request =
        ChatRequest::user("Summarize in one sentence: " + item.at("text").as_string());
    request.max_tokens = 60;
    auto reply = co_await ctx.llm(item.at("provider").as_string()).chat(std::move(request));
    co_return reply.value().text;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    state = state.with(
        {{"summarised", result.summary.succeeded},
         {"failed", result.summary.failed},
         {"first",
          result.items.empty() || !result.items[0].ok() ? Value("") : result.items[0].value()}});
    return std::string(default_action);
  }
};

// `actorflow` beside this program's build folder: build/<preset>/tools/actorflow.
std::string default_sim() {
  char self[4096];
  const auto n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return "actorflow";
  const std::filesystem::path exe(std::string(self, static_cast<std::size_t>(n)));
  return (exe.parent_path().parent_path() / "tools" / "actorflow").string();
}

void print_row(const char* name, double wall_s, const RunUsage& usage) {
  std::printf("  %-8s %8.2f s %7llu %10llu %12s\n", name, wall_s,
              static_cast<unsigned long long>(usage.calls),
              static_cast<unsigned long long>(usage.total_tokens()),
              format_money(usage.cost).c_str());
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Parallel summaries online and through a Batch API: time, calls, tokens, cost"};
  std::string dir = "/usr/share/common-licenses";
  std::string sim_program = default_sim();
  std::string prices_file;
  std::size_t max_paragraphs = 400;
  std::size_t delay_ms = 500;
  bool graph = false;
  app.add_option("folder", dir, "The text files")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  app.add_option("--max-paragraphs", max_paragraphs, "Paragraphs summarised at most")
      ->capture_default_str();
  app.add_option("--sim", sim_program, "The actorflow program whose sim to start (offline)")
      ->capture_default_str();
  app.add_option("--delay-ms", delay_ms, "The sim's time to answer a batch job")
      ->capture_default_str();
  app.add_option("--prices", prices_file, "A price table (JSON); default: gpt-4o-mini's");
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  auto flow = FlowBuilder("summaries").node<Summarise>("summarise").build();
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  if (examples::graph_printed(graph, *flow))
    return 0;

  auto read = read_directory(dir);
  if (!read) {
    std::cerr << read.error().to_string() << "\n";
    return 1;
  }
  Array texts;
  for (const auto& document : read->documents)
    examples::add_paragraphs(document.text, texts);
  if (texts.size() > max_paragraphs)
    texts.resize(max_paragraphs);

  // The server: the one the environment names, else a sim of our own on loopback.
  std::optional<tools::SimChild> sim;
  OpenAiConfig server;
  if (std::getenv("OPENAI_BASE_URL") != nullptr) {
    auto from_env = OpenAiConfig::from_env();
    if (!from_env) {
      std::cerr << from_env.error().to_string() << "\n";
      return 1;
    }
    server = *from_env;
  } else {
    auto started = tools::SimChild::start(
        sim_program, {"--threads", "80", "--batch-delay-ms", std::to_string(delay_ms)});
    if (!started) {
      std::cerr << "cannot start the sim (--sim " << sim_program
                << "): " << started.error().to_string() << "\n";
      return 1;
    }
    sim = std::move(*started);
    server.base_url = sim->base_url();
    server.model = "local";
    server.max_connections = 64;
  }

  PriceTable prices;
  if (!prices_file.empty()) {
    auto loaded = PriceTable::load(prices_file);
    if (!loaded) {
      std::cerr << loaded.error().to_string() << "\n";
      return 1;
    }
    prices = *loaded;
  } else {
    Price mini; // gpt-4o-mini, US dollars per million tokens
    mini.input = 0.15;
    mini.cached_input = 0.075;
    mini.output = 0.6;
    prices.set("*", server.model, mini);
  }

  OpenAiBatchOptions batch_options;
  if (sim) { // a sim answers in milliseconds: poll it often
    batch_options.max_wait = std::chrono::milliseconds(200);
    batch_options.poll_initial = std::chrono::milliseconds(50);
    batch_options.poll_max = std::chrono::milliseconds(500);
  }
  auto batch = std::make_shared<OpenAiBatchProvider>(server, batch_options);
  RuntimeConfig config;
  config.models.add("online", make_openai_provider(server));
  config.models.add("batch", batch);
  config.prices = prices;
  Runtime runtime{std::move(config)};

  std::cout << texts.size() << " paragraphs of " << dir << ", model " << server.model << " at "
            << server.base_url << "\n\n";
  std::printf("  %-8s %10s %7s %10s %12s\n", "", "wall", "calls", "tokens", "cost");
  std::optional<RunUsage> online_usage, batch_usage;
  bool all_done = true;
  for (const char* provider : {"online", "batch"}) {
    const auto t0 = std::chrono::steady_clock::now();
    auto result = runtime.run(*flow, State{}.with("texts", texts).with("provider", provider)).get();
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!result) {
      std::cerr << provider << ": " << result.error().to_string() << "\n";
      return 1;
    }
    print_row(provider, wall_s, result->usage);
    all_done = all_done && result->state.at("failed").as_int() == 0 &&
               result->state.at("summarised").as_int() == static_cast<std::int64_t>(texts.size());
    (std::string(provider) == "online" ? online_usage : batch_usage) = result->usage;
  }
  const auto jobs = batch->stats();
  std::cout << "\nthe batch went as " << jobs.jobs_submitted << " job(s), " << jobs.http_requests
            << " HTTP requests for " << batch_usage->calls << " calls; it cost "
            << batch_usage->cost / std::max(online_usage->cost, 1e-12) << " of online\n";
  return all_done && !texts.empty() ? 0 : 1;
}
