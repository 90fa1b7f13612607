// Running a batch across processes: this program starts two copies of itself as cluster
// nodes (`--serve`), connects to them, and runs one ParallelBatchNode whose items are placed
// on the nodes and here, by free capacity. The node type, `keywords`, is this file's own: the
// nodes are the same binary, so they find it by its registered name. Then it stops one node
// mid-batch (SIGKILL) to show its items start again elsewhere, and none is lost or twice.
//
//   multi_node                         start two nodes, run, kill one mid-batch
//   multi_node --serve [--port P]      be a node (until stdin closes, or SIGTERM)
//   multi_node --node 127.0.0.1:7001   use running nodes (started with --serve) instead

#include <actorflow/actorflow.hpp>

#include "example_support.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace actorflow;

namespace {

// The three longest words of a text, after a short wait that stands for a model's latency.
class Keywords final : public ParallelBatchNode {
public:
  Keywords() : ParallelBatchNode(BatchOptions{.max_concurrency = 64}) {}
  Value prep(const State& state) override { return state.at("texts"); }
  Task<Value> exec(Value text, Context& ctx) override {
    co_await ctx.sleep(std::chrono::milliseconds(2));
    std::vector<std::string> words;
    std::string word;
    for (char c : text.as_string() + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (!word.empty()) {
        words.push_back(std::exchange(word, {}));
      }
    }
    std::stable_sort(words.begin(), words.end(),
                     [](const auto& a, const auto& b) { return a.size() > b.size(); });
    words.erase(std::unique(words.begin(), words.end()), words.end());
    Array top;
    for (std::size_t i = 0; i < std::min<std::size_t>(3, words.size()); ++i)
      top.emplace_back(words[i]);
    co_return top;
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    auto ran_on = ran_on_counts(result.items);
    auto failed = result.summary.failed;
    auto requeued = result.summary.requeued;
    state = state.with({{"keywords", result_values(std::move(result.items))},
                        {"ran_on", std::move(ran_on)},
                        {"failed", failed},
                        {"requeued", requeued}});
    return std::string(default_action);
  }
};

RuntimeConfig config_with_keywords() {
  RuntimeConfig config;
  config.cluster.network = true;
  if (auto added = config.nodes.add<Keywords>("keywords"); !added) {
    std::cerr << added.error().to_string() << "\n";
    std::exit(1);
  }
  return config;
}

// --serve: a node for the `keywords` type. Stops when its stdin closes (its parent is gone)
// or on SIGTERM.
int serve(std::uint16_t port) {
  Runtime runtime(config_with_keywords());
  auto bound = runtime.serve(ServeOptions{.port = port, .capacity = 32});
  if (!bound) {
    std::cerr << "multi_node --serve: " << bound.error().to_string() << "\n";
    return 1;
  }
  std::cout << *bound << std::endl;
  for (int c = std::getchar(); c != EOF; c = std::getchar()) {
  }
  return 0;
}

// A node started as a child: this program with --serve, its port read from its stdout.
struct Child {
  pid_t pid = -1;
  int to_child = -1; // its stdin: closing it stops the node
  std::string address;
};

std::optional<Child> start_node(const char* self) {
  int in[2], out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0)
    return std::nullopt;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(in[1]);
    ::close(out[0]);
    ::execl(self, self, "--serve", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  std::string port;
  char c = 0;
  while (::read(out[0], &c, 1) == 1 && c != '\n')
    port += c;
  ::close(out[0]);
  if (pid < 0 || port.empty())
    return std::nullopt;
  return Child{pid, in[1], "127.0.0.1:" + port};
}

void stop_node(Child& child) {
  if (child.to_child >= 0)
    ::close(child.to_child);
  ::waitpid(child.pid, nullptr, 0);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"A batch across two cluster nodes and this process, one node killed mid-batch"};
  bool as_node = false;
  std::uint16_t port = 0;
  std::vector<std::string> nodes;
  std::size_t count = 3000;
  bool graph = false;
  app.add_flag("--serve", as_node, "Be a cluster node for the `keywords` node type");
  app.add_option("--port", port, "With --serve: the port (0: a free one, printed)");
  app.add_option("--node", nodes, "A running node (multi_node --serve) to use, host:port");
  app.add_option("--items", count, "Texts in the batch")->check(CLI::PositiveNumber);
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);
  if (as_node)
    return serve(port);
  auto flow = FlowBuilder("keywords").registered_node("keywords", "keywords").build();
  if (examples::graph_printed(graph, flow.value()))
    return 0;

  std::vector<Child> children;
  if (nodes.empty()) {
    for (int i = 0; i < 2; ++i) {
      auto child = start_node("/proc/self/exe");
      if (!child) {
        std::cerr << "could not start a node\n";
        return 1;
      }
      nodes.push_back(child->address);
      children.push_back(*child);
    }
  }
  int exit_code = 0;
  {
    auto config = config_with_keywords();
    config.cluster.nodes = nodes;
    config.cluster.local_capacity = 32; // as much as each node takes (ServeOptions::capacity)
    Runtime runtime(std::move(config));
    for (const auto& node : runtime.cluster_status())
      std::cout << "node " << node.address << ": "
                << (node.connected ? "connected, capacity " + std::to_string(node.capacity)
                                   : "not connected (" + node.last_error + ")")
                << "\n";

    Array texts;
    for (std::size_t i = 0; i < count; ++i)
      texts.emplace_back("Text " + std::to_string(i) +
                         ": actors exchange messages, supervisors "
                         "restart failures, and the batch gathers results in order");
    RunOptions options;
    std::atomic<bool> killed{false};
    if (!children.empty())
      options.on_progress = [&](const BatchProgress& progress) {
        if (progress.done >= count / 3 && !killed.exchange(true)) {
          std::cout << "killing node " << children[0].address << " (SIGKILL) after "
                    << progress.done << " of " << count << " items\n";
          ::kill(children[0].pid, SIGKILL);
        }
      };
    auto result =
        runtime.run(flow.value(), State{}.with("texts", std::move(texts)), std::move(options))
            .get();
    if (!result) {
      std::cerr << result.error().to_string() << "\n";
      exit_code = 1;
    } else {
      const auto& state = result->state;
      std::cout << "items by where they ran:\n";
      for (const auto& [where, n] : state.at("ran_on").as_map())
        std::cout << "  " << where << ": " << n.as_int() << "\n";
      std::cout << "started again after the node died: " << state.at("requeued").as_int()
                << "\nfailed: " << state.at("failed").as_int()
                << "\nfirst result: " << to_json(state.at("keywords").as_array().at(0)) << "\n";
      const auto& keywords = state.at("keywords").as_array();
      bool complete = keywords.size() == count && state.at("failed").as_int() == 0 &&
                      std::all_of(keywords.begin(), keywords.end(), [](const Value& v) {
                        return v.is_array() && v.as_array().size() == 3;
                      });
      std::cout << "every item once, none failed: " << (complete ? "yes" : "NO") << "\n";
      exit_code = complete ? 0 : 1;
    }
  }
  for (auto& child : children)
    stop_node(child);
  return exit_code;
}
