// An agent that asks before it changes anything. The agent's tools read and delete files of a
// (pretend, in-memory) folder; `delete_file` is wrapped in `with_approval`, so each of its
// calls first raises an interrupt: the agent's node waits, holding no thread, until the host's
// person answers. The host reads the run's events and, for each interrupt, asks at the
// terminal (or takes the next line of --answers FILE, as CI does), then answers the run.
// A refusal goes back to the model as the tool call's error, and the agent goes on.
//
// Exit code 1 unless a deletion was asked about, and the folder changed exactly as answered.
// Run: build/release/examples/approval_agent [--prompt TEXT] [--answers FILE] [--graph]
#include "example_support.hpp"

#include <fstream>
#include <iostream>
#include <mutex>
#include <set>

using namespace actorflow;

namespace {

// The folder the tools work on (tool calls run on runtime threads: guarded).
struct Folder {
  std::mutex mutex;
  std::set<std::string> files{"notes.txt", "old.log", "report.pdf"};

  Value list() {
    std::lock_guard lock{mutex};
    Array names(files.begin(), files.end());
    return Value(std::move(names));
  }
  Value remove(const std::string& name) {
    std::lock_guard lock{mutex};
    if (files.erase(name) == 0)
      throw Failure(Error{Errc::bad_input, "no file '" + name + "'"});
    return Value("deleted " + name);
  }
  bool has(const std::string& name) {
    std::lock_guard lock{mutex};
    return files.count(name) != 0;
  }
};

// Where answers come from: the lines of a file, else the terminal.
class Person {
public:
  explicit Person(const std::string& answers_file) {
    if (answers_file.empty())
      return;
    scripted_ = true;
    std::ifstream in(answers_file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty())
        lines_.push_back(line);
  }
  std::string ask(const std::string& question) {
    std::cout << "? " << question << " [y/N] " << std::flush;
    std::string answer;
    if (scripted_) {
      answer = next_ < lines_.size() ? lines_[next_++] : "no";
      std::cout << answer << " (from the answers file)\n";
    } else if (!std::getline(std::cin, answer)) {
      answer = "no";
    }
    return answer;
  }

private:
  bool scripted_ = false;
  std::vector<std::string> lines_;
  std::size_t next_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"An agent whose changes wait for a person's approval."};
  std::string prompt = "Use list_files, then delete_file with path: \"old.log\".";
  std::string answers;
  bool graph = false;
  app.add_option("--prompt", prompt, "What to ask the agent");
  app.add_option("--answers", answers, "Answer interrupts from this file, one line each")
      ->check(CLI::ExistingFile);
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  auto folder = std::make_shared<Folder>();
  AgentOptions options;
  options.system = "You manage a folder of files.";
  options.tools = ToolBox(
      {make_tool("list_files", "Lists the folder's files.", object_schema({}),
                 [folder](const Value&) { return folder->list(); }),
       with_approval(make_tool(
           "delete_file", "Deletes one file of the folder.", object_schema({{"path", "string"}}),
           [folder](const Value& args) { return folder->remove(args.at("path").as_string()); }))});
  auto flow = FlowBuilder("approval_agent").node("agent", agent_node(options)).build().value();
  if (examples::graph_printed(graph, flow))
    return 0;

  Runtime runtime{examples::runtime_config_or_exit("")};
  auto run = runtime.run(flow, State{}.with("prompt", prompt), {.stream = StreamMode::tools});
  Person person(answers);
  std::size_t asked = 0;
  std::string last_answer;
  auto events = run.events();
  while (auto event = events.next()) {
    if (auto* called = std::get_if<ToolCalled>(&event->body))
      std::cout << "  model calls " << called->tool << "(" << called->arguments << ")\n";
    if (auto* returned = std::get_if<ToolReturned>(&event->body))
      std::cout << "  " << returned->tool << " -> " << returned->content << "\n";
    auto* raised = std::get_if<InterruptEvent>(&event->body);
    if (raised == nullptr || raised->interrupt.status != InterruptStatus::pending)
      continue;
    ++asked;
    last_answer = person.ask(raised->interrupt.question.at("question").as_string());
    if (auto answered = run.answer(raised->interrupt.id, Value(last_answer)); !answered)
      std::cerr << answered.error().to_string() << "\n";
  }
  auto result = run.get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  std::cout << "\nagent: " << to_json(result->state.at("answer")) << "\n";
  const bool approved = !last_answer.empty() && (last_answer[0] == 'y' || last_answer[0] == 'Y');
  const bool deleted = !folder->has("old.log");
  std::cout << "old.log " << (deleted ? "deleted" : "kept") << " (" << asked
            << " question asked)\n";
  return asked > 0 && deleted == approved ? 0 : 1;
}
