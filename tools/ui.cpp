// `actorflow ui`: the routes of the run viewer. The page (tools/ui/, embedded) asks the /api/
// endpoints (tools/ui_api.hpp) for JSON and /api/graph.svg for a run's flow drawn by Graphviz
// (tools/ui_graph.hpp). Nothing here writes to the store: a viewer may watch a live run's file.

#include "ui.hpp"

#include <actorflow/checkpoint.hpp>

#include "stop_signals.hpp"
#include "ui_api.hpp"
#include "ui_assets.hpp"
#include "ui_graph.hpp"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string_view>
#include <thread>
#include <vector>

namespace actorflow::tools {

namespace {

// The page and its scripts come from this server only; a run's names and values are text.
void secure(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
}

void answer(httplib::Response& res, const ApiResult<nlohmann::json>& result) {
  secure(res);
  if (const auto* error = std::get_if<ApiError>(&result)) {
    res.status = error->status;
    res.set_content(nlohmann::json{{"error", error->message}}.dump(), "application/json");
    return;
  }
  res.set_content(std::get<nlohmann::json>(result).dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void refuse(httplib::Response& res, int status, const std::string& message) {
  answer(res, ApiError{status, message});
}

// A non-negative integer parameter; `fallback` when absent, none when malformed.
std::optional<std::uint64_t> number_param(const httplib::Request& req, const char* name,
                                          std::uint64_t fallback) {
  if (!req.has_param(name))
    return fallback;
  const std::string text = req.get_param_value(name);
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

// The run id every /api/ call but the list names (?id=); a 400 when it is missing.
std::optional<std::string> run_id_param(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("id") || req.get_param_value("id").empty()) {
    refuse(res, 400, "name the run: ?id=RUN_ID");
    return std::nullopt;
  }
  return req.get_param_value("id");
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// The Host headers a server on loopback address `host`, port `port`, answers to.
std::vector<std::string> loopback_hosts(const std::string& host, int port) {
  const std::string suffix = ":" + std::to_string(port);
  std::vector<std::string> allowed{(host == "::1" ? "[::1]" : host) + suffix};
  for (const char* name : {"127.0.0.1", "localhost", "[::1]"})
    allowed.push_back(name + suffix);
  return allowed;
}

void routes(httplib::Server& server, CheckpointStore& store, const UiOptions& options,
            SvgCache& svgs) {
  for (const UiAsset& asset : ui_assets()) {
    server.Get(std::string(asset.path), [&asset](const httplib::Request&, httplib::Response& res) {
      secure(res);
      res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
    });
  }
  server.Get("/api/runs", [&store](const httplib::Request& req, httplib::Response& res) {
    answer(res, runs_json(store, req.get_param_value("status")));
  });
  server.Get("/api/run", [&store, &options](const httplib::Request& req, httplib::Response& res) {
    if (auto id = run_id_param(req, res))
      answer(res, run_json(store, *id, options.traces));
  });
  server.Get("/api/items", [&store](const httplib::Request& req, httplib::Response& res) {
    auto id = run_id_param(req, res);
    if (!id)
      return;
    const auto offset = number_param(req, "offset", 0);
    const auto limit = number_param(req, "limit", 100);
    if (!offset || !limit || *limit == 0 || *limit > 1000)
      return refuse(res, 400, "offset and limit are whole numbers; limit 1 to 1000");
    ItemQuery query;
    query.node = req.get_param_value("node");
    query.failed_only = req.get_param_value("failed") == "1";
    query.offset = *offset;
    query.limit = *limit;
    answer(res, items_json(store, *id, query));
  });
  server.Get("/api/state", [&store](const httplib::Request& req, httplib::Response& res) {
    if (auto id = run_id_param(req, res))
      answer(res, state_json(store, *id));
  });
  server.Get("/api/trace", [&options](const httplib::Request& req, httplib::Response& res) {
    if (auto id = run_id_param(req, res))
      answer(res, trace_json(options.traces, *id));
  });
  server.Get(
      "/api/graph.svg", [&store, &svgs](const httplib::Request& req, httplib::Response& res) {
        auto id = run_id_param(req, res);
        if (!id)
          return;
        Result<CheckpointStore::Resumable> run = store.load_run(*id);
        if (!run)
          return answer(res, api_error(run.error()));
        const std::string& next = run->record.next_node;
        Result<std::string> svg = svgs.get(*id, next, [&]() -> Result<std::string> {
          Result<std::string> graph = store.load_graph(*id);
          if (!graph)
            return graph.error();
          if (graph->empty())
            return Error{Errc::bad_input,
                         "run '" + *id + "' recorded no graph (it began before schema version 4)"};
          Result<std::string> dot = graph_dot(*graph, next);
          if (!dot)
            return dot;
          return render_svg(*dot);
        });
        if (!svg) {
          const bool missing = svg.error().code == Errc::bad_input;
          return refuse(res, missing ? 404 : 503, svg.error().message);
        }
        secure(res);
        res.set_content(*svg, "image/svg+xml");
      });
  // httplib calls this for every answer of 400 or more, also those the routes wrote: only an
  // answer without a body (no route matched) gets one here.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty())
      return;
    if (res.status == 404 && req.path.rfind("/api/", 0) == 0)
      refuse(res, 404, "no endpoint " + req.path);
    else if (res.status == 404)
      refuse(res, 404, "no page " + req.path + " (the viewer is at /)");
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr thrown) {
        std::string why = "unknown";
        try {
          std::rethrow_exception(thrown);
        } catch (const std::exception& e) {
          why = e.what();
        } catch (...) {
        }
        refuse(res, 500, "internal error: " + why);
      });
}

} // namespace

int ui(const UiOptions& options) {
  const auto fail = [](const std::string& why) {
    std::cerr << "actorflow ui: " << why << "\n";
    return 1;
  };
  const bool url =
      options.db.rfind("postgresql://", 0) == 0 || options.db.rfind("postgres://", 0) == 0;
  // A viewer must not create a store where a path was mistyped.
  if (!url && !std::ifstream(options.db).good())
    return fail(options.db + ": no such checkpoint store (no file there)");
  const sigset_t stop_signals = block_stop_signals(); // before any thread starts
  Result<CheckpointStorePtr> store = open_checkpoint_store(options.db);
  if (!store)
    return fail(store.error().to_string());

  SvgCache svgs;
  httplib::Server server;
  routes(server, **store, options, svgs);
  const int port =
      options.port == 0
          ? server.bind_to_any_port(options.host)
          : (server.bind_to_port(options.host, options.port) ? static_cast<int>(options.port) : -1);
  if (port <= 0)
    return fail("cannot listen on " + options.host + ":" + std::to_string(options.port));
  // DNS rebinding: a web page elsewhere may make the browser send its requests to loopback
  // under that page's own name. On loopback, only requests that name this server are
  // answered (elsewhere its names are not known here).
  if (is_loopback(options.host))
    server.set_pre_routing_handler([allowed = loopback_hosts(options.host, port)](
                                       const httplib::Request& req, httplib::Response& res) {
      if (std::find(allowed.begin(), allowed.end(), req.get_header_value("Host")) != allowed.end())
        return httplib::Server::HandlerResponse::Unhandled;
      refuse(res, 421, "this server answers to " + allowed.front() + " only");
      return httplib::Server::HandlerResponse::Handled;
    });
  else
    std::fprintf(stderr,
                 "actorflow ui: listening on %s, beyond this machine: the viewer has no "
                 "login, and shows whatever the store holds\n",
                 options.host.c_str());
  std::thread listener([&server] { server.listen_after_bind(); });
  std::printf("actorflow ui: serving http://%s:%d/\n", options.host.c_str(), port);
  std::fflush(stdout);
  wait_for_stop_signal(stop_signals);
  server.stop();
  listener.join();
  return 0;
}

} // namespace actorflow::tools
