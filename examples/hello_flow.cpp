// A three-node flow with a branch: classify a question, then answer it one of two ways.
// Run: build/release/examples/hello_flow "what is an actor?" [--graph]
#include <actorflow/actorflow.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

using namespace actorflow;

// Reads the question, decides whether it is a question at all, names the branch.
class Classify : public Node {
public:
  Value prep(const State& state) override { return state.at("question"); }
  Task<Value> exec(Value question, Context&) override {
    const auto& text = question.as_string();
    co_return !text.empty() && text.back() == '?';
  }
  std::string post(State& state, const Value&, const Value& is_question) override {
    state = state.with("is_question", is_question);
    return is_question.as_bool() ? "question" : "statement";
  }
};

int main(int argc, char** argv) {
  CLI::App app{"A three-node flow with a branch: classify a question, then answer it"};
  std::string question = "what is an actor?";
  bool graph = false;
  app.add_option("question", question, "What to classify and answer")->capture_default_str();
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  auto answer = step_node([](State& state) {
    auto text = state.at("question").as_string();
    state =
        state.with("answer", "You asked: \"" + text + "\". An actor is a process with a mailbox.");
    return std::string(default_action);
  });
  auto acknowledge = step_node([](State& state) {
    state = state.with("answer", "Noted: " + state.at("question").as_string());
    return std::string(default_action);
  });

  auto flow = FlowBuilder("hello")
                  .node<Classify>("classify")
                  .node("answer", answer)
                  .node("acknowledge", acknowledge)
                  .edge("classify", "answer", "question")
                  .edge("classify", "acknowledge", "statement")
                  .build();
  if (!flow) {
    std::cerr << flow.error().to_string() << "\n";
    return 1;
  }
  if (examples::graph_printed(graph, *flow))
    return 0;

  Runtime runtime;
  auto result = runtime.run(*flow, State{}.with("question", question)).get();
  if (!result) {
    std::cerr << "run failed: " << result.error().to_string() << "\n";
    return 1;
  }
  std::cout << result->state.at("answer").as_string() << "\n";
  std::cout << "path:";
  for (const auto& step : result->path)
    std::cout << " " << step;
  std::cout << "\n";
  return result->path.size() == 2 ? 0 : 1;
}
