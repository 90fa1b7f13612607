// The MCP client against real MCP servers from npm (tools/mcp, installed by tools/setup):
// the protocol's reference server (server-everything) over stdio and over Streamable HTTP on
// loopback, and the filesystem server; their tools used by an agent; and servers that die
// mid-call, hang, exit at once or write what is not JSON-RPC. Skipped, saying so, where
// Node.js or the servers are missing.
#include <actorflow/actorflow.hpp>

#include "subprocess.hpp" // tools/
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <future>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

namespace {

const std::filesystem::path modules = MCP_NODE_MODULES;

std::string package_main(const std::string& package) {
  return (modules / "@modelcontextprotocol" / package / "dist/index.js").string();
}

/// Node.js and the servers are there; otherwise the test says why it does not run.
bool servers_available() {
  static const bool available = std::system("node --version >/dev/null 2>&1") == 0 &&
                                std::filesystem::exists(package_main("server-everything")) &&
                                std::filesystem::exists(package_main("server-filesystem"));
  if (!available)
    MESSAGE("skipped: Node.js or the npm MCP servers are missing (tools/setup installs them "
            "when npm is there)");
  return available;
}

McpServer everything_stdio() {
  return McpServer{.command = {"node", package_main("server-everything"), "stdio"}};
}

/// server-everything over Streamable HTTP on 127.0.0.1, for as long as this object lives.
struct EverythingHttp {
  tools::Subprocess process;
  std::string url;
  static EverythingHttp start() {
    auto child =
        must(tools::Subprocess::start({"/usr/bin/env", "node", MCP_HTTP_SCRIPT, modules.string()}));
    auto port = child.read_line(20s);
    REQUIRE_MESSAGE(port.has_value(), "the HTTP server printed no port");
    return EverythingHttp{std::move(child), "http://127.0.0.1:" + *port + "/mcp"};
  }
};

Result<Value> call_async(const McpClient& client, const std::string& tool, Value args,
                         std::chrono::seconds bound = 20s) {
  auto promise = std::make_shared<std::promise<Result<Value>>>();
  auto future = promise->get_future();
  client.call_tool(tool, std::move(args),
                   [promise](Result<Value> r) { promise->set_value(std::move(r)); });
  REQUIRE(future.wait_for(bound) == std::future_status::ready);
  return future.get();
}

/// An agent on the local model whose tools are `client`'s; returns its answer.
std::string agent_answer(const McpClient& client, const std::string& prompt) {
  AgentOptions options;
  options.tools = ToolBox(must(client.tools()));
  auto flow = must(FlowBuilder("agent").node("agent", agent_node(options)).build());
  Runtime runtime{two_workers()};
  auto run = runtime.run(flow, State{}.with("prompt", prompt));
  REQUIRE(run.wait_for(30s));
  auto result = must(run.get());
  REQUIRE(result.state.at("answer").is_string());
  return result.state.at("answer").as_string();
}

void check_everything(const McpClient& client) {
  CHECK(client.server_name().find("everything") != std::string::npos);
  CHECK_FALSE(client.protocol_version().empty());
  auto tools = must(client.tools());
  std::vector<std::string> names;
  for (const auto& t : tools)
    names.push_back(t.name);
  CHECK(std::find(names.begin(), names.end(), "echo") != names.end());
  CHECK(std::find(names.begin(), names.end(), "get-sum") != names.end());
  CHECK(must(client.call_tool("echo", Value::object({{"message", "hi"}}))) == Value("Echo: hi"));
  auto sum = must(call_async(client, "get-sum", Value::object({{"a", 2}, {"b", 3}})));
  CHECK(contains(to_json(sum), "5"));
  // A call the server rejects (arguments that break its schema) is an error, not a hang.
  auto bad = call_async(client, "get-sum", Value::object({{"a", "two"}}));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::bad_request);
  CHECK(contains(bad.error().message, "get-sum"));
  // An agent uses the server's tools like its own.
  auto answer = agent_answer(client, "Call echo with message \"from the agent\".");
  CHECK(answer == "[local model] echo: Echo: from the agent");
}

} // namespace

TEST_CASE("stdio: the reference server's tools are listed, called, and used by an agent") {
  if (!servers_available())
    return;
  auto client = must(McpClient::connect(everything_stdio()));
  REQUIRE(client.process_id());
  check_everything(client);
}

TEST_CASE("Streamable HTTP: the same, with the server's session id on every request") {
  if (!servers_available())
    return;
  auto server = EverythingHttp::start();
  auto client = must(McpClient::connect({.url = server.url}));
  CHECK_FALSE(client.process_id());
  check_everything(client);
}

TEST_CASE("the filesystem server's tools, prefixed, over a folder of the test's") {
  if (!servers_available())
    return;
  TempDir dir;
  write_text(dir.path() / "note.txt", "hello from a file");
  auto client = must(McpClient::connect(
      {.command = {"node", package_main("server-filesystem"), dir.path().string()},
       .tool_prefix = "fs_"}));
  auto tools = must(client.tools());
  CHECK(std::any_of(tools.begin(), tools.end(),
                    [](const Tool& t) { return t.name == "fs_read_text_file"; }));
  auto text = must(client.call_tool("read_text_file",
                                    Value::object({{"path", (dir.path() / "note.txt").string()}})));
  CHECK(contains(to_json(text), "hello from a file"));
  auto outside = client.call_tool("read_text_file", Value::object({{"path", "/etc/passwd"}}));
  REQUIRE_FALSE(outside.ok()); // the server's own guard, reported as the tool's error
  CHECK(outside.error().code == Errc::bad_request);
}

TEST_CASE("a server killed mid-call fails that call with connection_failed, and later ones") {
  if (!servers_available())
    return;
  auto client = must(McpClient::connect(everything_stdio()));
  auto promise = std::make_shared<std::promise<Result<Value>>>();
  auto future = promise->get_future();
  client.call_tool("trigger-long-running-operation",
                   Value::object({{"duration", 30}, {"steps", 3}}),
                   [promise](Result<Value> r) { promise->set_value(std::move(r)); });
  ::kill(*client.process_id(), SIGKILL);
  REQUIRE(future.wait_for(20s) == std::future_status::ready);
  auto r = future.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::connection_failed);
  CHECK(contains(r.error().message, "killed by signal 9"));
  auto later = call_async(client, "echo", Value::object({{"message", "x"}}));
  REQUIRE_FALSE(later.ok());
  CHECK(later.error().code == Errc::connection_failed);
}

TEST_CASE("a server that does not answer in time fails the call with timeout") {
  if (!servers_available())
    return;
  auto server = everything_stdio();
  server.timeout = 5s; // long enough for the handshake on a loaded machine
  auto client = must(McpClient::connect(server));
  auto started = std::chrono::steady_clock::now();
  // The server answers only after 30 s; the call's own deadline is 5 s.
  auto r = call_async(client, "trigger-long-running-operation",
                      Value::object({{"duration", 30}, {"steps", 1}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::timeout);
  CHECK(std::chrono::steady_clock::now() - started < 20s);
}

TEST_CASE("a server that cannot start, exits at once, or writes what is not JSON-RPC") {
  auto missing = McpClient::connect({.command = {"/nonexistent/mcp-server"}});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::bad_input);
  CHECK(contains(missing.error().message, "/nonexistent/mcp-server"));

  auto exits = McpClient::connect({.command = {"sh", "-c", "echo gone >&2; exit 3"}});
  REQUIRE_FALSE(exits.ok());
  CHECK(exits.error().code == Errc::connection_failed);
  CHECK(contains(exits.error().message, "exited with status 3"));
  CHECK(contains(exits.error().message, "gone"));

  // A fake server (sh): reads the handshake, answers garbage, then stays silent.
  auto garbage =
      McpClient::connect({.command = {"sh", "-c", "read line; echo '{oops'; cat >/dev/null"}});
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == Errc::bad_response);
  CHECK(contains(garbage.error().message, "{oops"));

  auto neither = McpClient::connect({});
  REQUIRE_FALSE(neither.ok());
  CHECK(neither.error().code == Errc::bad_input);
  auto bad_url = McpClient::connect({.url = "ftp://x"});
  REQUIRE_FALSE(bad_url.ok());
  CHECK(bad_url.error().code == Errc::bad_input);
}
