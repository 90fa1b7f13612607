// A host program whose own functions are the model's tools. The host has its own event loop
// (here, a plain job queue on the main thread, as a GUI toolkit or an asio io_context would
// have), and one of its functions must only ever run there: `make_tool_on` hands that
// function's calls to the loop, and the tool call's actor waits without holding a thread.
// The other functions are ordinary tools, each made in one line with `make_tool`.
//
// The main thread runs the loop until the agent's run is done, then prints what happened.
// Exit code 1 unless the loop-bound tool really ran on the main thread.
// Run: build/release/examples/host_tools [--prompt TEXT] [--graph]
#include "example_support.hpp"

#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

using namespace actorflow;

namespace {

/// The host's event loop: jobs posted from any thread, run in order on the thread that calls
/// `run_until`.
class EventLoop {
public:
  void post(std::function<void()> job) {
    {
      std::lock_guard guard(mutex_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  /// Runs jobs until `done()` holds (checked after each job and each wake-up).
  void run_until(const std::function<bool()>& done) {
    std::unique_lock lock(mutex_);
    while (!done()) {
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !jobs_.empty(); });
      while (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        lock.lock();
      }
    }
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
};

/// The host's state: a shopping cart that only the event loop's thread may touch.
struct Cart {
  std::vector<std::string> items;
  std::thread::id owner = std::this_thread::get_id();
  bool touched_elsewhere = false;
  void add(std::string item) {
    touched_elsewhere |= std::this_thread::get_id() != owner;
    items.push_back(std::move(item));
  }
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"A host's own functions as the model's tools, one bound to its event loop"};
  std::string prompt = "Look up the price of sku \"A-17\", then add_to_cart the item \"A-17\".";
  bool graph = false;
  app.add_option("--prompt", prompt, "What to ask the agent");
  examples::add_graph_flag(app, graph);
  examples::parse_or_exit(app, argc, argv);

  EventLoop loop;
  Cart cart;
  Executor on_loop = [&loop](std::function<void()> job) { loop.post(std::move(job)); };

  // The host's functions, each a tool in one line.
  ToolBox tools(std::vector<Tool>{
      make_tool("price", "The price of a product, by SKU.", object_schema({{"sku", "string"}}),
                [](const Value& a) {
                  return Value::object({{"sku", a.at("sku")}, {"price_eur", 19.5}});
                }),
      make_tool_on(on_loop, "add_to_cart", "Adds an item to the user's cart.",
                   object_schema({{"item", "string"}}), [&cart](const Value& a) {
                     cart.add(a.at("item").as_string());
                     return Value("added; the cart holds " + std::to_string(cart.items.size()) +
                                  " item(s)");
                   })});

  AgentOptions options;
  options.tools = tools;
  auto flow = FlowBuilder("shop").node("agent", agent_node(options)).build().value();
  if (examples::graph_printed(graph, flow))
    return 0;
  Runtime runtime{examples::runtime_config_or_exit("")};
  auto run = runtime.run(flow, State{}.with("prompt", prompt));

  loop.run_until([&] { return run.done(); }); // the host's loop serves the tool meanwhile
  auto result = run.get();
  if (!result) {
    std::cerr << result.error().to_string() << "\n";
    return 1;
  }
  std::cout << "prompt: " << prompt << "\n"
            << "answer: " << result->state.at("answer").as_string() << "\n"
            << "cart:";
  for (const auto& item : cart.items)
    std::cout << " " << item;
  std::cout << "\n"
            << "add_to_cart ran on the event loop's thread: "
            << (cart.touched_elsewhere ? "no" : "yes") << "\n";
  return !cart.items.empty() && !cart.touched_elsewhere ? 0 : 1;
}
