// Send one prompt to several models at once with map_actions (Burr's MapActions): one action
// per (provider, model), each a node calling ctx.llm(provider) in its own actor, reduced into
// a table of model, latency, tokens and answer.
//
// Offline there is only the embedded `local` provider, which is no LLM, so the example
// registers a second instance of it as "local-2" to have two contenders; both answer by the
// same fixed rules. With OPENAI_BASE_URL set, the "openai" provider joins the comparison.
// Run: build/release/examples/multi_model_compare [--prompt TEXT] [--model provider[/model]]...
//      [--max-tokens N] [--trace FILE] [--report]; --help lists every option.
#include <actorflow/actorflow.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

using namespace actorflow;

namespace {

struct Contender {
  std::string label;    // "provider/model", the model filled in when not given
  std::string provider; // its name in the ModelRegistry
  std::string model;    // empty: the provider's default
};

class AskModel : public Node {
public:
  AskModel(Contender contender, std::uint32_t max_tokens)
      : contender_(std::move(contender)), max_tokens_(max_tokens) {}
  Value prep(const State& state) override { return state.at("prompt"); }
  Task<Value> exec(Value prompt, Context& ctx) override {
    auto request = ChatRequest::user(prompt.as_string());
    request.model = contender_.model;
    request.max_tokens = max_tokens_;
    // Measured here, around the call, so the latency is the model's as a node sees it (the
    // wait for a grant included) and not the sub-run's start-up.
    auto start = std::chrono::steady_clock::now();
    auto reply = co_await ctx.llm(contender_.provider).chat(std::move(request));
    std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    const auto& answer = reply.value(); // an error fails this contender's row only
    co_return Value::object({{"latency_ms", took.count()},
                             {"prompt_tokens", answer.usage.prompt_tokens},
                             {"completion_tokens", answer.usage.completion_tokens},
                             {"finish", answer.finish_reason},
                             {"text", answer.text}});
  }
  std::string post(State& state, const Value&, const Value& reply) override {
    state = state.with("reply", reply);
    return std::string(default_action);
  }

private:
  Contender contender_;
  std::uint32_t max_tokens_;
};

// The rows, in the order the contenders were given, whatever order they finished in.
MapReducer tabulate(std::vector<Contender> contenders) {
  return [contenders = std::move(contenders)](const State& state,
                                              const std::vector<ItemOutcome>& outcomes) {
    std::size_t width = 8;
    for (const auto& c : contenders)
      width = std::max(width, c.label.size() + 2);
    std::ostringstream table;
    table << std::left << std::setw(static_cast<int>(width)) << "model" << std::right
          << std::setw(10) << "latency" << std::setw(18) << "tokens (in+out)"
          << "  " << std::left << std::setw(7) << "finish"
          << "answer\n";
    std::int64_t answered = 0;
    Array texts; // null for a contender that failed
    for (const auto& outcome : outcomes) {
      table << std::left << std::setw(static_cast<int>(width)) << contenders[outcome.index].label;
      if (!outcome.ok()) {
        table << "FAILED: " << outcome.error().to_string() << "\n";
        texts.emplace_back();
        continue;
      }
      const auto& reply = outcome.value().at("reply");
      std::ostringstream latency, tokens;
      latency << std::fixed << std::setprecision(1) << reply.at("latency_ms").as_double() << " ms";
      tokens << reply.at("prompt_tokens").as_int() << "+" << reply.at("completion_tokens").as_int();
      table << std::right << std::setw(10) << latency.str() << std::setw(18) << tokens.str() << "  "
            << std::left << std::setw(7) << reply.at("finish").as_string()
            << examples::one_line(reply.at("text").as_string(), 70) << "\n";
      texts.push_back(reply.at("text"));
      ++answered;
    }
    return state.with({{"table", table.str()}, {"answered", answered}, {"texts", texts}});
  };
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Send one prompt to several models at once and compare their answers"};
  std::string prompt =
      "Summarize in one sentence: An actor owns its state and changes it only while it handles "
      "a message from its mailbox. Actors share nothing, so no locks guard their data. Work "
      "moves between actors as messages, and a slow actor delays only its own mailbox. A "
      "supervisor watches its children and restarts the one that crashed. A failure therefore "
      "stays inside the actor where it happened.";
  std::vector<std::string> wanted;
  std::uint32_t max_tokens = 200;
  examples::Watching watch;
  bool graph = false;
  app.add_option("--prompt", prompt, "The prompt every model gets");
  app.add_option("--model", wanted,
                 "A contender, provider[/model], repeatable (default: every provider configured, "
                 "with its default model)");
  app.add_option("--max-tokens", max_tokens, "Most tokens per answer")->capture_default_str();
  watch.add_options(app);
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  auto config = examples::runtime_config_or_exit(watch.trace);
  const bool openai = config.models.contains("openai"); // OPENAI_BASE_URL is set
  // A second instance of the offline provider under its own name: it gets its own resource
  // controller ("local-2/local") and its own row, though it answers exactly as "local" does.
  config.models.add("local-2", make_local_provider());
  Runtime runtime{std::move(config)};

  std::vector<Contender> contenders;
  if (wanted.empty())
    wanted = runtime.models().names();
  for (const auto& spec : wanted) {
    auto slash = spec.find('/');
    Contender c{spec, spec.substr(0, slash),
                slash == std::string::npos ? "" : spec.substr(slash + 1)};
    auto provider = runtime.models().find(c.provider);
    if (!provider) {
      std::cerr << "--model " << spec << ": no provider '" << c.provider << "' (configured:";
      for (const auto& name : runtime.models().names())
        std::cerr << " " << name;
      std::cerr << ")\n";
      return 1;
    }
    if (c.model.empty())
      c.label.append("/").append(provider->default_model());
    contenders.push_back(std::move(c));
  }
  if (contenders.size() < 2) {
    std::cerr << "--model: a comparison needs two contenders or more\n";
    return 1;
  }

  std::vector<Flow> actions;
  for (const auto& c : contenders) {
    // Node paths join names with '/' ("ask/local:local"): one inside a name would read as
    // nesting in reports and traces.
    std::string name = c.label;
    std::replace(name.begin(), name.end(), '/', ':');
    actions.push_back(as_flow(name, factory_of<AskModel>(c, max_tokens)));
  }
  auto flow = FlowBuilder("compare")
                  .node("ask", map_actions(std::move(actions), tabulate(contenders),
                                           BatchOptions{.max_concurrency = contenders.size()}))
                  .build();
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  if (examples::graph_printed(graph, *flow))
    return 0;

  std::vector<std::size_t> offline; // contenders served by a local provider
  for (std::size_t i = 0; i < contenders.size(); ++i)
    if (runtime.models().find(contenders[i].provider)->kind() == "local")
      offline.push_back(i);
  if (offline.size() > 1) {
    std::cout << "note: ";
    for (std::size_t i = 0; i < offline.size(); ++i)
      std::cout << (i == 0                    ? ""
                    : i + 1 == offline.size() ? " and "
                                              : ", ")
                << contenders[offline[i]].label;
    std::cout << (offline.size() == 2 ? " are both" : " are all")
              << " the offline local model, registered under " << offline.size()
              << " names: no LLM, one set of deterministic rules, so their answers must match"
              << (openai ? "" : "; set OPENAI_BASE_URL to compare a real model") << "\n";
  }

  std::cout << "prompt: " << examples::one_line(prompt, 110) << "\n\n";
  auto options = watch.run_options();
  auto result = runtime.run(*flow, State{}.with("prompt", prompt), std::move(options)).get();
  if (!result) {
    std::cerr << "run failed: " << result.error().to_string() << "\n";
    return 1;
  }
  std::cout << result->state.at("table").as_string();
  auto answered = static_cast<std::size_t>(result->state.at("answered").as_int());
  const auto& texts = result->state.at("texts").as_array();
  // The offline instances run one set of rules: differing answers would be a bug, not a result.
  const bool offline_agree = std::all_of(offline.begin(), offline.end(), [&](std::size_t i) {
    return texts.at(i) == texts.at(offline.front());
  });
  std::cout << "\n" << answered << " of " << contenders.size() << " answered";
  if (offline.size() > 1)
    std::cout << "; the offline instances' answers are "
              << (offline_agree ? "identical, as they must be" : "DIFFERENT (a bug)");
  std::cout << "\n";
  if (!watch.finish(result))
    return 1;
  return answered == contenders.size() && offline_agree ? 0 : 1;
}
