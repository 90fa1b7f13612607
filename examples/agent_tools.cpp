// An agent with tools, two ways: the agent node (model turn -> the turn's tool calls, all at
// once, each in its own actor -> results -> next turn), and the same loop written by hand as a
// flow with a cycle, decide -> act -> decide (PocketFlow's agent pattern). The tools: a
// calculator, a search over the files of a folder, and, when Node.js is there and the MCP
// filesystem server is installed (tools/setup installs it when npm is there), that server's
// tools.
//
// On the embedded local model (no key, no network) the answers are deterministic: the local
// model calls the tools the prompt names, with arguments taken from the prompt, and then
// answers with their results. The example checks them: exit code 1 if a tool did not answer.
// Run: build/release/examples/agent_tools [--dir FOLDER] [--question TEXT] [--no-mcp] [--graph]
#include <actorflow/mcp.hpp>

#include "example_support.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace actorflow;

namespace {

// -- the calculator: + - * / and parentheses over numbers --------------------------------------

class Calculator {
public:
  explicit Calculator(std::string_view text) : text_(text) {}
  double evaluate() {
    double v = sum();
    skip();
    if (at_ != text_.size())
      fail("unexpected '" + std::string(1, text_[at_]) + "'");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Failure(Error{Errc::bad_input, "calculator: " + what + " at " + std::to_string(at_)});
  }
  void skip() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_])))
      ++at_;
  }
  bool take(char c) {
    skip();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  double sum() {
    double v = product();
    for (;;) {
      if (take('+'))
        v += product();
      else if (take('-'))
        v -= product();
      else
        return v;
    }
  }
  double product() {
    double v = factor();
    for (;;) {
      if (take('*'))
        v *= factor();
      else if (take('/')) {
        double d = factor();
        if (d == 0)
          fail("division by zero");
        v /= d;
      } else
        return v;
    }
  }
  double factor() {
    if (take('-'))
      return -factor();
    if (take('(')) {
      double v = sum();
      if (!take(')'))
        fail("missing ')'");
      return v;
    }
    skip();
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(std::string(text_.substr(at_)), &used);
    } catch (const std::exception&) {
      fail("expected a number");
    }
    at_ += used;
    return v;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

Tool calculator() {
  return make_tool("calculator", "Evaluates an arithmetic expression: + - * / and parentheses.",
                   object_schema({{"expression", "string"}}), [](const Value& args) {
                     return Value(Calculator(args.at("expression").as_string()).evaluate());
                   });
}

// -- file search ---------------------------------------------------------------------------------

Tool search_files(std::filesystem::path dir) {
  return make_tool(
      "search_files", "Lists the files under the folder whose text contains the query.",
      object_schema({{"query", "string"}}), [dir](const Value& args) {
        const auto& query = args.at("query").as_string();
        Array hits;
        std::error_code ec;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
          if (!entry.is_regular_file() || entry.file_size() > (1 << 20))
            continue;
          std::ifstream in(entry.path());
          std::stringstream text;
          text << in.rdbuf();
          if (text.str().find(query) != std::string::npos)
            hits.emplace_back(std::filesystem::relative(entry.path(), dir).string());
        }
        std::sort(hits.begin(), hits.end(),
                  [](const Value& a, const Value& b) { return a.as_string() < b.as_string(); });
        return Value(std::move(hits));
      });
}

// -- the loop by hand: decide -> act -> decide ---------------------------------------------------

Flow hand_written(const ToolBox& tools) {
  auto decide = lambda_node({.prep = [](const State& s) { return s.at("transcript"); },
                             .exec = [tools](Value transcript, Context& ctx) -> Task<Value> {
                               ChatRequest request;
                               request.messages = messages_from_value(transcript).value();
                               request.tools = tools.specs();
                               auto reply = co_await ctx.llm().chat(std::move(request));
                               co_return to_value(reply.value().message());
                             },
                             .post =
                                 [](State& s, const Value&, const Value& message) {
                                   auto transcript = s.at("transcript").as_array();
                                   transcript.push_back(message);
                                   s = s.with("transcript", Value(std::move(transcript)));
                                   return std::string(message.find("tool_calls") ? "act" : "done");
                                 }});
  auto act = lambda_node({.prep = [](const State& s) { return s.at("transcript"); },
                          .exec = [tools](Value transcript, Context& ctx) -> Task<Value> {
                            auto messages = messages_from_value(transcript).value();
                            auto results =
                                co_await run_tool_calls(ctx, tools, messages.back().tool_calls);
                            co_return to_value(results);
                          },
                          .post =
                              [](State& s, const Value&, const Value& results) {
                                auto transcript = s.at("transcript").as_array();
                                for (const auto& r : results.as_array())
                                  transcript.push_back(r);
                                s = s.with("transcript", Value(std::move(transcript)));
                                return std::string("decide");
                              }});
  return FlowBuilder("agent-by-hand")
      .node("decide", decide)
      .node("act", act)
      .edge("decide", "act", "act")
      .edge("act", "decide", "decide")
      .build()
      .value();
}

// The agent node as a one-node flow.
Flow agent_flow(const ToolBox& tools) {
  AgentOptions options;
  options.tools = tools;
  options.system = "You are a helpful assistant. Use the tools when they help.";
  return FlowBuilder("agent").node("agent", agent_node(options)).build().value();
}

void print_transcript(const Value& transcript) {
  auto messages = messages_from_value(transcript).value(); // named: the loop outlives it
  for (const auto& m : messages) {
    std::cout << "  " << m.role << ": ";
    if (!m.tool_calls.empty()) {
      for (const auto& c : m.tool_calls)
        std::cout << c.name << "(" << c.arguments << ") ";
    } else {
      std::cout << examples::one_line(m.text(), 150);
    }
    std::cout << "\n";
  }
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"An agent with tools: the agent node, and the same loop by hand"};
  std::string dir = std::filesystem::path(__FILE__).parent_path().string();
  std::string question = "Use the calculator with expression \"12 * 7 + 3\" and search_files "
                         "for query \"ParallelBatchNode\".";
  bool no_mcp = false;
  bool graph = false;
  app.add_option("--dir", dir, "The folder search_files looks in")->check(CLI::ExistingDirectory);
  app.add_option("--question", question, "What to ask the agent");
  app.add_flag("--no-mcp", no_mcp, "Leave the MCP filesystem server out even when it is there");
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  ToolBox tools(std::vector<Tool>{calculator(), search_files(dir)});
  // The MCP server's tools would change no box of either picture: drawn without starting it.
  if (examples::graph_printed(graph, {agent_flow(tools), hand_written(tools)}))
    return 0;
  // The MCP filesystem server, when Node.js is on PATH and tools/setup installed it: its
  // tools over the same folder, named fs_*.
  auto server_js = std::filesystem::path(__FILE__).parent_path().parent_path() /
                   "tools/mcp/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js";
  std::optional<McpClient> mcp;
  if (!no_mcp && std::filesystem::exists(server_js) &&
      std::system("node --version >/dev/null 2>&1") == 0) {
    auto client =
        McpClient::connect({.command = {"node", server_js.string(), dir}, .tool_prefix = "fs_"});
    auto listed = client ? client->tools() : Result<std::vector<Tool>>(client.error());
    if (!listed) {
      std::cerr << "MCP filesystem server: " << listed.error().to_string() << "\n";
      return 1;
    }
    mcp.emplace(std::move(*client));
    tools.add(std::move(*listed));
    std::cout << "MCP: " << mcp->server_name() << " (protocol " << mcp->protocol_version() << "), "
              << tools.size() - 2 << " tools\n";
    question += " Then fs_list_allowed_directories.";
  } else {
    std::cout << "MCP: the filesystem server is not installed (tools/setup installs it with "
                 "npm) or Node.js is missing; going on without it\n";
  }

  auto config = examples::runtime_config_or_exit("");
  bool on_local = config.models.default_name() == "local";
  Runtime runtime{std::move(config)};
  auto agent = agent_flow(tools);

  std::cout << "question: " << question << "\n\n-- the agent node --\n";
  auto first = runtime.run(agent, State{}.with("prompt", question)).get();
  if (!first) {
    std::cerr << first.error().to_string() << "\n";
    return 1;
  }
  print_transcript(first->state.at("transcript"));
  const auto& report = first->state.at("agent");
  std::cout << "stop: " << report.at("stop").as_string() << ", turns "
            << report.at("turns").as_int() << ", tool calls " << report.at("tool_calls").as_int()
            << "\n\n-- the same loop by hand (decide -> act -> decide) --\n";

  auto start = to_value(std::vector<ChatMessage>{ChatMessage::user(question)});
  auto second = runtime.run(hand_written(tools), State{}.with("transcript", start)).get();
  if (!second) {
    std::cerr << second.error().to_string() << "\n";
    return 1;
  }
  print_transcript(second->state.at("transcript"));
  std::cout << "path: ";
  for (const auto& step : second->path)
    std::cout << step << " ";
  std::cout << "\n";

  // On the local model the answers are known: both tools ran, and both loops agree.
  auto answer = first->state.at("answer");
  auto by_hand = messages_from_value(second->state.at("transcript")).value().back().text();
  bool ok = answer.is_string() && answer.as_string() == by_hand &&
            second->path == std::vector<std::string>{"decide", "act", "decide"} &&
            answer.as_string().find("Error") == std::string::npos;
  if (on_local) {
    ok = ok && answer.as_string().find("calculator: 87") != std::string::npos &&
         answer.as_string().find("agent_tools.cpp") != std::string::npos;
    if (mcp)
      ok = ok && answer.as_string().find("Allowed directories") != std::string::npos;
  }
  std::cout << "\nanswer: " << (answer.is_string() ? answer.as_string() : "(none)") << "\n";
  return ok ? 0 : 1;
}
