// Sweep prompt templates x max_tokens over one text with map_states (Burr's MapStates): one
// summarise node, run once per setting, each run in its own actors on its own copy of the
// state; the reducer tabulates every answer and picks the shortest that ended by itself
// (finish "stop") rather than being cut at max_tokens ("length").
//
// Offline by default: the embedded `local` provider is no LLM; it answers "summarise" and
// "TL;DR" prompts with the text's most central sentences, "title" prompts with its key terms,
// and echoes anything else. With OPENAI_BASE_URL set it asks that OpenAI-compatible server.
// Run: build/release/examples/prompt_sweep [--file F] [--template T]... [--max-tokens N]...
//      [--trace FILE] [--report]; --help lists every option.
#include <actorflow/actorflow.hpp>
#include <actorflow/ingest.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <sstream>

using namespace actorflow;

namespace {

constexpr std::string_view placeholder = "{text}";

class Summarise : public Node {
public:
  Value prep(const State& state) override {
    auto prompt = state.at("template").as_string();
    prompt.replace(prompt.find(placeholder), placeholder.size(), state.at("text").as_string());
    return Value::object({{"prompt", prompt}, {"max_tokens", state.at("max_tokens")}});
  }
  Task<Value> exec(Value input, Context& ctx) override {
    auto request = ChatRequest::user(input.at("prompt").as_string());
    request.max_tokens = static_cast<std::uint32_t>(input.at("max_tokens").as_int());
    auto reply = co_await ctx.llm().chat(std::move(request));
    const auto& answer = reply.value(); // an error fails this setting's run only
    co_return Value::object({{"text", answer.text},
                             {"finish", answer.finish_reason},
                             {"output_tokens", answer.usage.completion_tokens}});
  }
  std::string post(State& state, const Value&, const Value& answer) override {
    // Every final state goes back to the reducer: the input text need not go with it.
    state = state.without("text").with("answer", answer);
    return std::string(default_action);
  }
};

// The template as shown in the table: its text before the placeholder.
std::string label(const std::string& prompt_template) {
  auto head = prompt_template.substr(0, prompt_template.find(placeholder));
  head.erase(head.find_last_not_of(" \n\t") + 1);
  return examples::one_line(std::move(head), 30);
}

struct Setting {
  std::string prompt_template;
  std::uint32_t max_tokens;
};

// The rows in setting order; `settings` names the ones that failed (they have no final state).
MapReducer tabulate(std::vector<Setting> settings) {
  return [settings = std::move(settings)](const State& state,
                                          const std::vector<ItemOutcome>& outcomes) {
    std::ostringstream table;
    table << std::left << std::setw(34) << "template" << std::right << std::setw(10) << "max_tokens"
          << std::setw(8) << "output"
          << "  " << std::left << std::setw(8) << "finish"
          << "answer\n";
    std::int64_t answered = 0;
    const ItemOutcome* best = nullptr;
    for (const auto& outcome : outcomes) {
      const auto& setting = settings.at(outcome.index);
      table << std::left << std::setw(34) << label(setting.prompt_template) << std::right
            << std::setw(10) << setting.max_tokens;
      if (!outcome.ok()) {
        table << "  FAILED: " << outcome.error().to_string() << "\n";
        continue;
      }
      const auto& answer = outcome.value().at("answer");
      table << std::setw(8) << answer.at("output_tokens").as_int() << "  " << std::left
            << std::setw(8) << answer.at("finish").as_string()
            << examples::one_line(answer.at("text").as_string(), 60) << "\n";
      ++answered;
      // Ties go to the earlier setting: the smaller max_tokens of one template.
      const auto& text = answer.at("text").as_string();
      if (answer.at("finish").as_string() == "stop" && !text.empty() &&
          (!best || text.size() < best->value().at("answer").at("text").as_string().size()))
        best = &outcome;
    }
    std::string pick = "none of the answers finished with \"stop\" (try a larger --max-tokens)";
    if (best) {
      const auto& setting = settings.at(best->index);
      pick = "shortest answer that finished with \"stop\": \"";
      pick.append(label(setting.prompt_template))
          .append("\" at max_tokens ")
          .append(std::to_string(setting.max_tokens))
          .append(": ")
          .append(examples::one_line(best->value().at("answer").at("text").as_string(), 300));
    }
    return state.with({{"table", table.str()}, {"answered", answered}, {"pick", pick}});
  };
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run one summarise node over prompt templates x max_tokens and compare"};
  std::string file = "/usr/share/common-licenses/BSD";
  std::vector<std::string> templates = {"Summarize: {text}", "Summarize in one sentence: {text}",
                                        "TL;DR: {text}", "Title: {text}",
                                        "Explain to a child: {text}"};
  std::vector<std::uint32_t> max_tokens = {16, 64, 256};
  examples::Watching watch;
  bool graph = false;
  app.add_option("--file", file, "The text to summarise")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  app.add_option("--template", templates,
                 "A prompt template, repeatable; {text} marks where the text goes (appended on a "
                 "line of its own when missing)")
      ->capture_default_str();
  app.add_option("--max-tokens", max_tokens, "A max_tokens setting, repeatable")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  watch.add_options(app);
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);
  for (auto& t : templates)
    if (t.find(placeholder) == std::string::npos)
      t.append("\n").append(placeholder);
  auto document = read_text_file(file);
  if (!document) {
    std::cerr << document.error().to_string() << "\n";
    return 1;
  }
  const std::string& text = document->text;

  // Template-major: a template's settings sit together in the table.
  std::vector<Setting> settings;
  for (const auto& t : templates)
    for (auto m : max_tokens)
      settings.push_back({t, m});
  auto states = [settings](const State& state) {
    std::vector<State> out;
    for (const auto& [prompt_template, tokens] : settings)
      out.push_back(state.with({{"template", prompt_template}, {"max_tokens", tokens}}));
    return out;
  };
  auto flow = FlowBuilder("sweep")
                  .node("sweep", map_states(as_flow("summarise", factory_of<Summarise>()), states,
                                            tabulate(settings)))
                  .build();
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  if (examples::graph_printed(graph, *flow))
    return 0;

  Runtime runtime{examples::runtime_config_or_exit(watch.trace)};
  const auto provider = runtime.models().default_name();
  std::cout << "provider: " << provider << ", model "
            << runtime.models().find(provider)->default_model()
            << (provider == "local" ? " (offline; no LLM: it extracts sentences and key terms, "
                                      "or echoes)"
                                    : "")
            << "\ninput: " << file << " (" << text.size() << " bytes); " << templates.size()
            << " templates x " << max_tokens.size() << " max_tokens settings\n\n";

  auto options = watch.run_options();
  auto result = runtime.run(*flow, State{}.with("text", text), std::move(options)).get();
  if (!result) {
    std::cerr << "run failed: " << result.error().to_string() << "\n";
    return 1;
  }
  std::cout << result->state.at("table").as_string() << "\n"
            << result->state.at("pick").as_string() << "\n";
  if (!watch.finish(result))
    return 1;
  const auto answered = static_cast<std::size_t>(result->state.at("answered").as_int());
  return answered == settings.size() ? 0 : 1;
}
