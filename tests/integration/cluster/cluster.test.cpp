// Cluster nodes: `actorflow node` processes on loopback, batches across them and this process,
// a node killed with SIGKILL mid-batch, a node stopped with SIGSTOP (heartbeats), TLS with
// certificates made by the openssl CLI, and bad input from a peer (an unknown node type, a payload
// that does not decode).

#include <actorflow/actorflow.hpp>

#include "actors/cluster/protocol.hpp"
#include "actors/wire.hpp"
#include "core/outcome_codec.hpp"
#include "subprocess.hpp" // tools/
#include "support/test_support.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
using tools::Subprocess;

namespace {

// `actorflow node --port PORT --workers 1 <args>`, listening; stopped (SIGTERM) when destroyed.
struct NodeProcess {
  Subprocess process;
  std::uint16_t port = 0;
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

NodeProcess start_node(std::vector<std::string> args = {}, std::uint16_t port = 0) {
  args.insert(args.begin(), {"--workers", "1"});
  auto child = must(tools::ListeningChild::start(ACTORFLOW_CLI, "node", std::move(args), port));
  return NodeProcess{std::move(child.process), child.port};
}

RuntimeConfig cluster_config(std::vector<std::string> nodes, std::size_t window = 256) {
  RuntimeConfig config = two_workers();
  config.cluster.nodes = std::move(nodes);
  must(register_stock_nodes(config.nodes, BatchOptions{.max_concurrency = window}));
  return config;
}

Flow stock_flow(const std::string& type) {
  return must(FlowBuilder("cluster").registered_node("batch", type).build());
}

State numbers(std::int64_t n) {
  Array items;
  for (std::int64_t i = 0; i < n; ++i)
    items.emplace_back(i);
  return State{}.with("items", std::move(items));
}

// Every result is its item squared, each present once, and nothing failed.
void check_squares(const State& state, std::int64_t n) {
  CHECK(state.at("failed").as_int() == 0);
  const auto& results = state.at("results").as_array();
  REQUIRE(results.size() == static_cast<std::size_t>(n));
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < n; ++i)
    if (!results[static_cast<std::size_t>(i)].is_int() ||
        results[static_cast<std::size_t>(i)].as_int() != i * i)
      ++wrong;
  CHECK(wrong == 0);
}

// `n` items of the stock "sleep" type, 5 ms each: enough to keep a batch in full flight.
State sleepers(std::int64_t n) {
  Array items;
  for (std::int64_t i = 0; i < n; ++i)
    items.emplace_back(Map{{"ms", 5}, {"value", i}});
  return State{}.with("items", std::move(items));
}

// Every item of a "sleep" batch of `n` came back once, with its own value, and none failed.
void check_each_once(const State& state, std::size_t n) {
  CHECK(state.at("failed").as_int() == 0);
  const auto& results = state.at("results").as_array();
  REQUIRE(results.size() == n);
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < results.size(); ++i) {
    CHECK(results[i].as_int() == static_cast<std::int64_t>(i));
    seen.insert(results[i].as_int());
  }
  CHECK(seen.size() == n);
}

std::int64_t items_at(const State& state, const std::string& where) {
  const Value* count = state.at("ran_on").find(where);
  return count != nullptr ? count->as_int() : 0;
}

} // namespace

TEST_CASE("a 10,000-item batch runs across three node processes and this runtime") {
  std::vector<NodeProcess> nodes;
  for (int i = 0; i < 3; ++i)
    nodes.push_back(start_node());
  std::vector<std::string> addresses;
  for (const auto& node : nodes)
    addresses.push_back(node.address());
  Runtime runtime(cluster_config(addresses));
  for (const auto& status : runtime.cluster_status())
    REQUIRE_MESSAGE(status.connected, (status.address + ": " + status.last_error));

  auto state = must(runtime.run(stock_flow("square"), numbers(10'000)).get()).state;
  check_squares(state, 10'000);
  std::int64_t total = items_at(state, "local");
  CHECK(items_at(state, "local") > 0);
  for (const auto& address : addresses) {
    CHECK_MESSAGE(items_at(state, address) > 0, (address + " did no work"));
    total += items_at(state, address);
  }
  CHECK(total == 10'000);
  CHECK(state.at("requeued").as_int() == 0);
}

TEST_CASE("a node killed with SIGKILL mid-batch: its items run elsewhere, none lost or twice") {
  auto doomed = start_node();
  auto survivor = start_node();
  auto config = cluster_config({doomed.address(), survivor.address()}, 64);
  config.cluster.local_capacity = 0; // every item on a node
  Runtime runtime(std::move(config));
  std::atomic<bool> killed{false};
  RunOptions options;
  options.on_progress = [&](const BatchProgress& progress) {
    if (progress.done >= 400 && !killed.exchange(true))
      ::kill(doomed.process.pid(), SIGKILL);
  };
  auto state =
      must(runtime.run(stock_flow("sleep"), sleepers(2000), std::move(options)).get()).state;
  REQUIRE(killed.load());
  check_each_once(state, 2000);
  CHECK(state.at("requeued").as_int() > 0); // the dead node had items in flight
  CHECK(items_at(state, survivor.address()) > 0);
  auto status = runtime.cluster_status();
  REQUIRE(status.size() == 2);
  CHECK_FALSE(status[0].connected);
  CHECK(status[0].items_requeued == static_cast<std::uint64_t>(state.at("requeued").as_int()));
}

TEST_CASE("a node stopped (SIGSTOP) mid-batch falls silent: its items run elsewhere, none lost "
          "or twice, resumed (SIGCONT), it is used again") {
  auto hung = start_node();
  auto survivor = start_node();
  auto config = cluster_config({hung.address(), survivor.address()}, 64);
  config.cluster.local_capacity = 0; // every item on a node
  // Long enough that a survivor slowed by a loaded machine (and the sanitizers) is not taken
  // for silent too.
  config.cluster.node_silence = std::chrono::milliseconds(3000);
  config.cluster.reconnect_interval = std::chrono::milliseconds(50);
  config.cluster.connect_timeout = std::chrono::milliseconds(500);
  Runtime runtime(std::move(config));
  // Whatever happens below, the node is not left stopped (its end sends SIGTERM first).
  struct Resume {
    Subprocess& process;
    ~Resume() { process.signal(SIGCONT); }
  } resume_at_end{hung.process};

  std::atomic<bool> stopped{false};
  RunOptions options;
  options.deadline = std::chrono::seconds(60); // without heartbeats the run would wait forever
  options.on_progress = [&](const BatchProgress& progress) {
    if (progress.done >= 400 && !stopped.exchange(true))
      hung.process.signal(SIGSTOP);
  };
  auto state =
      must(runtime.run(stock_flow("sleep"), sleepers(2000), std::move(options)).get()).state;
  REQUIRE(stopped.load());
  check_each_once(state, 2000);
  CHECK(state.at("requeued").as_int() > 0); // the stopped node had items in flight
  auto status = runtime.cluster_status();
  REQUIRE(status.size() == 2);
  CHECK_FALSE(status[0].connected); // its connection is still open: only silence tells
  // Why it is down: its silence, or (once the dialler tried it) its hello unanswered.
  const auto& why = status[0].last_error;
  CHECK_MESSAGE(
      (why.find("silent") != std::string::npos || why.find("no hello") != std::string::npos), why);
  CHECK(status[0].items_requeued == static_cast<std::uint64_t>(state.at("requeued").as_int()));

  // Resumed, it answers the dialler's hello again, and gets work. Its late answers to the
  // launches given up on were dropped: the run above saw every item once.
  hung.process.signal(SIGCONT);
  REQUIRE(runtime.wait_for_nodes(std::chrono::seconds(20)));
  CHECK(runtime.cluster_status().at(0).connects >= 2);
  auto again = must(runtime.run(stock_flow("sleep"), sleepers(400)).get()).state;
  check_each_once(again, 400);
  CHECK(items_at(again, hung.address()) > 0);
  CHECK(again.at("requeued").as_int() == 0);
}

TEST_CASE("the model-call leases of a node that falls silent come back to the controller") {
  // Both nodes call a sim whose every answer takes 5 s (the node is stopped well before its
  // first two calls end); at most 2 calls at once, run-wide.
  auto sim = must(tools::SimChild::start(ACTORFLOW_CLI, {"--latency-ms", "5000"}));
  ::setenv("OPENAI_BASE_URL", sim.base_url().c_str(), 1);
  ::setenv("OPENAI_API_KEY", "sk-test", 1);
  auto hung = start_node();
  auto survivor = start_node();
  ::unsetenv("OPENAI_BASE_URL");
  ::unsetenv("OPENAI_API_KEY");
  struct Resume {
    Subprocess& process;
    ~Resume() { process.signal(SIGCONT); }
  } resume_at_end{hung.process};

  auto config = cluster_config({hung.address()});
  config.cluster.local_capacity = 0;
  config.cluster.node_silence = std::chrono::milliseconds(2000);
  config.limits["openai"] = Limits{.max_concurrent = 2};
  Runtime runtime(std::move(config));
  Array texts;
  for (int i = 0; i < 4; ++i)
    texts.emplace_back("Item " + std::to_string(i) + " is about actors.");
  RunOptions options;
  options.deadline = std::chrono::seconds(60); // a lease held for ever would stall it
  auto run = runtime.run(stock_flow("summarise"), State{}.with("items", std::move(texts)), options);
  // Every item is on the first node: two calls granted (at the sim), two waiting.
  REQUIRE(eventually([&] {
    auto stats = runtime.limit_stats();
    return stats.size() == 1 && stats[0].in_flight == 2 && stats[0].waiting == 2;
  }));
  must(runtime.add_node(survivor.address()));
  hung.process.signal(SIGSTOP);
  // Silent, its two leases and two asks are given back; the items run on the other node.
  auto result = run.get();
  REQUIRE_MESSAGE(result.ok(), result.error().to_string());
  CHECK(result->state.at("failed").as_int() == 0);
  CHECK(items_at(result->state, survivor.address()) == 4);
  CHECK(result->state.at("requeued").as_int() == 4);
  CHECK(eventually([&] { // the survivor's last release may come after the run's end
    auto stats = runtime.limit_stats();
    return stats.size() == 1 && stats[0].in_flight == 0 && stats[0].waiting == 0;
  }));
}

TEST_CASE("a node that comes back on its address is dialled again and used") {
  auto node = start_node();
  auto config = cluster_config({node.address()});
  config.cluster.local_capacity = 0;
  config.cluster.reconnect_interval = std::chrono::milliseconds(50);
  Runtime runtime(std::move(config));
  check_squares(must(runtime.run(stock_flow("square"), numbers(100)).get()).state, 100);
  ::kill(node.process.pid(), SIGKILL);
  REQUIRE(node.process.wait_exit(std::chrono::seconds(10)));
  // While it is down, items run here.
  auto alone = must(runtime.run(stock_flow("square"), numbers(100)).get()).state;
  check_squares(alone, 100);
  auto back = start_node({}, node.port); // the same address
  REQUIRE(runtime.wait_for_nodes(std::chrono::seconds(10)));
  auto state = must(runtime.run(stock_flow("square"), numbers(100)).get()).state;
  check_squares(state, 100);
  CHECK(items_at(state, back.address()) == 100);
  CHECK(runtime.cluster_status().at(0).connects == 2);
}

TEST_CASE("TLS: a peer with a certificate from the CA gets work, one without is refused") {
  auto dir =
      std::filesystem::temp_directory_path() / ("actorflow-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto d = dir.string();
  // A CA, a node and a client certificate it signs, and a rogue one from another CA.
  auto script =
      "cd '" + d +
      "' && "
      "openssl ecparam -name prime256v1 -genkey -noout -out ca.key && "
      "openssl req -x509 -new -key ca.key -subj /CN=actorflow-test-ca -days 2 -out ca.pem && "
      "for who in node client; do "
      "openssl ecparam -name prime256v1 -genkey -noout -out $who.key && "
      "openssl req -new -key $who.key -subj /CN=$who -out $who.csr && "
      "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ext && "
      "openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile ext -out $who.pem; done && "
      "openssl ecparam -name prime256v1 -genkey -noout -out rogue-ca.key && "
      "openssl req -x509 -new -key rogue-ca.key -subj /CN=rogue-ca -days 2 -out rogue-ca.pem && "
      "openssl ecparam -name prime256v1 -genkey -noout -out rogue.key && "
      "openssl req -new -key rogue.key -subj /CN=rogue -out rogue.csr && "
      "openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial "
      "-days 2 -out rogue.pem) 2>/dev/null";
  REQUIRE_MESSAGE(std::system(("(" + script).c_str()) == 0,
                  "openssl could not make the certificates");
  auto node =
      start_node({"--cert", d + "/node.pem", "--key", d + "/node.key", "--ca", d + "/ca.pem"});

  SUBCASE("with the client certificate, work flows") {
    auto config = cluster_config({node.address()});
    config.cluster.tls = TlsFiles{d + "/client.pem", d + "/client.key", d + "/ca.pem"};
    config.cluster.local_capacity = 0; // every item on the node
    Runtime runtime(std::move(config));
    REQUIRE(runtime.cluster_status().at(0).connected);
    auto state = must(runtime.run(stock_flow("square"), numbers(200)).get()).state;
    check_squares(state, 200);
    CHECK(items_at(state, node.address()) == 200);
  }
  SUBCASE("a certificate from another CA is refused") {
    auto config = cluster_config({});
    config.cluster.tls = TlsFiles{d + "/rogue.pem", d + "/rogue.key", d + "/ca.pem"};
    Runtime runtime(std::move(config));
    auto connected = runtime.add_node(node.address());
    REQUIRE_FALSE(connected.ok());
    CHECK(connected.error().code == Errc::connection_failed);
  }
  SUBCASE("a plain connection is refused") {
    auto config = cluster_config({});
    config.cluster.network = true;
    Runtime runtime(std::move(config));
    auto connected = runtime.add_node(node.address());
    REQUIRE_FALSE(connected.ok());
    CHECK_MESSAGE(connected.error().code == Errc::connection_failed, connected.error().message);
    // Work still runs, here.
    auto state = must(runtime.run(stock_flow("square"), numbers(50)).get()).state;
    check_squares(state, 50);
    CHECK(items_at(state, "local") == 50);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("model calls of items on nodes ask this runtime's resource controller") {
  auto first = start_node();
  auto second = start_node();
  Array texts;
  for (int i = 0; i < 40; ++i)
    texts.emplace_back("Item " + std::to_string(i) +
                       " is about actors. They pass messages. "
                       "Nothing is shared between them.");
  SUBCASE("every call is granted here, and every lease comes back") {
    auto config = cluster_config({first.address(), second.address()});
    config.cluster.local_capacity = 0;
    config.limits["local"] = Limits{.max_concurrent = 2};
    Runtime runtime(std::move(config));
    Collected<ModelCallEvent> collected;
    RunOptions options;
    options.on_model_call = collected.hook();
    auto run =
        must(runtime.run(stock_flow("summarise"), State{}.with("items", texts), std::move(options))
                 .get());
    const auto& state = run.state;
    CHECK(state.at("failed").as_int() == 0);
    // The run counts the calls its items made on the nodes ...
    CHECK(run.usage.calls == 40);
    CHECK(run.usage.total_tokens() > 0);
    // ... and the host hears of each, as of a call made here: its node, item and usage.
    const auto calls = collected.events();
    std::set<std::size_t> items;
    std::uint64_t tokens = 0;
    for (const auto& call : calls) {
      CHECK(call.provider == "local");
      CHECK(call.node == "batch");
      CHECK_FALSE(call.error.has_value());
      REQUIRE(call.item.has_value());
      items.insert(*call.item);
      tokens += call.usage.total_tokens;
    }
    CHECK(calls.size() == 40);
    CHECK(items.size() == 40);
    CHECK(tokens == run.usage.total_tokens());
    CHECK(items_at(state, first.address()) + items_at(state, second.address()) == 40);
    auto stats = runtime.limit_stats();
    REQUIRE(stats.size() == 1);
    CHECK(stats[0].granted == 40);
    CHECK(stats[0].in_flight == 0);
    // Each lease came back with the call's actual usage (not returned at its estimate when
    // its item actor ended): the same as the same calls made here.
    Runtime local(cluster_config({}));
    must(local.run(stock_flow("summarise"), State{}.with("items", texts)).get());
    REQUIRE(local.limit_stats().size() == 1);
    CHECK(stats[0].tokens_used == local.limit_stats()[0].tokens_used);
  }
  SUBCASE("the run's token budget holds across nodes") {
    auto config = cluster_config({first.address(), second.address()});
    config.cluster.local_capacity = 0;
    config.limits["local"] = Limits{.max_concurrent = 2, .tokens_per_run = 400};
    Runtime runtime(std::move(config));
    auto state =
        must(runtime.run(stock_flow("summarise"), State{}.with("items", texts)).get()).state;
    CHECK(state.at("failed").as_int() > 0);
    CHECK(state.at("failed").as_int() < 40);
    bool budget_named = false;
    for (const auto& [index, error] : state.at("errors").as_map())
      budget_named = budget_named || contains(error.as_string(), "budget_exhausted");
    CHECK(budget_named);
  }
}

namespace {

// A node type this process has and the nodes do not.
class Cube final : public ParallelBatchNode {
public:
  Cube() : ParallelBatchNode(BatchOptions{.max_concurrency = 16}) {}
  Value prep(const State& state) override { return state.at("items"); }
  Task<Value> exec(Value item, Context&) override {
    co_return item.as_int() * item.as_int() * item.as_int();
  }
  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array errors;
    for (const auto& item : result.items)
      errors.emplace_back(item.ok() ? std::string() : item.error().to_string());
    state = state.with("errors", std::move(errors));
    return std::string(default_action);
  }
};

} // namespace

TEST_CASE("an unknown node type on the node is an error of each item, and the node lives on") {
  auto node = start_node();
  auto config = cluster_config({node.address()});
  must(config.nodes.add<Cube>("cube"));
  config.cluster.local_capacity = 0;
  Runtime runtime(std::move(config));
  auto result =
      must(runtime.run(must(FlowBuilder("cubes").registered_node("c", "cube").build()), numbers(20))
               .get());
  const auto& errors = result.state.at("errors").as_array();
  REQUIRE(errors.size() == 20);
  for (const auto& error : errors)
    CHECK_MESSAGE(contains(error.as_string(), "no registered node type 'cube'"), error.as_string());
  auto squares = must(runtime.run(stock_flow("square"), numbers(20)).get()).state;
  check_squares(squares, 20);
  CHECK(items_at(squares, node.address()) == 20);
}

TEST_CASE("a payload that does not decode, or another protocol version, is an item error") {
  auto node = start_node();
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system system{cfg};
  auto host = system.middleman().remote_actor("127.0.0.1", node.port);
  REQUIRE(host);
  caf::scoped_actor self{system};
  // `old_form`: a launch as protocols 1 to 4 sent it (no traceparent).
  auto outcome_of = [&](std::uint32_t version, std::vector<char> payload, bool old_form = false) {
    if (old_form)
      self->send(*host, actors::rexec_atom::value, version, std::string("square"),
                 std::move(payload), std::uint32_t{3}, std::uint32_t{7}, std::uint64_t{5},
                 std::uint32_t{1}, caf::actor_cast<caf::actor>(self), std::uint64_t{1}, 0.0);
    else
      self->send(*host, actors::rexec_atom::value, version, std::string("square"),
                 std::move(payload), std::uint32_t{3}, std::uint32_t{7}, std::uint64_t{5},
                 std::uint32_t{1}, caf::actor_cast<caf::actor>(self), std::uint64_t{1}, 0.0,
                 std::string{});
    std::optional<ItemOutcome> outcome;
    self->receive(
        [&](actors::rdone_atom, std::uint32_t slot, std::uint32_t launch,
            const std::vector<char>& bytes, const std::vector<char>& usage) {
          CHECK(actors::decode_calls(usage).usage.calls == 0); // squaring calls no model
          CHECK(slot == 3);
          CHECK(launch == 7);
          auto decoded = detail::decode_outcome(actors::wire_view(bytes));
          REQUIRE(decoded.ok());
          outcome = std::move(*decoded);
        },
        caf::after(std::chrono::seconds(10)) >> [] { FAIL("the node did not answer in 10 s"); });
    REQUIRE(outcome.has_value());
    return *outcome;
  };
  auto garbage = outcome_of(cluster_protocol_version, {'\xc1', '\x00', '\xff'});
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == Errc::bad_input);
  CHECK(contains(garbage.error().message, "does not decode"));
  const auto six = actors::wire_bytes(to_msgpack(Value(6)));
  auto other_version = outcome_of(cluster_protocol_version + 1, six);
  REQUIRE_FALSE(other_version.ok());
  CHECK(contains(other_version.error().message, "protocol"));
  auto older = outcome_of(4, six, true);
  REQUIRE_FALSE(older.ok());
  CHECK(contains(older.error().message, "cluster protocol 4 is not this node's"));
  // An exit message or an error from a peer does not stop the node's host.
  self->send_exit(*host, caf::exit_reason::user_shutdown);
  self->send(*host, caf::make_error(caf::sec::runtime_error, "from a peer"));
  // The node still works: a good launch squares its item.
  auto good = outcome_of(cluster_protocol_version, six);
  REQUIRE(good.ok());
  CHECK(good.value().as_int() == 36);
}
