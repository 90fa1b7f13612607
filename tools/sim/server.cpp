// `actorflow sim` (see sim.hpp). A model call goes through, in order: authorization, decoding
// of the body and of the x-sim-* headers, the size check, the rate limits (a 429 answers at
// once), the fault draw, the latency wait, and then the answer (which settles the token bucket
// with its actual usage) or the fault. The Batch API (batch_api.hpp) answers its lines with the
// same answer makers, and shares the authorization and the token counters.
#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/tokens.hpp>

#include "providers/openai_wire.hpp"
#include "sim/answers.hpp"
#include "sim/batch_api.hpp"
#include "sim/counters.hpp"
#include "sim/faults.hpp"
#include "sim/limiter.hpp"
#include "sim/sim.hpp"
#include "stop_signals.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace actorflow::tools {

using namespace sim;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct SimState {
  explicit SimState(SimOptions opts) : options(std::move(opts)), random(options.seed) {}

  SimOptions options;
  LatencyDistribution distribution = LatencyDistribution::fixed;
  std::vector<Fault> faults;
  std::optional<Limiter> limiter;
  Counters counters;
  std::atomic<std::uint64_t> next_id{1};
  std::optional<BatchApi> batch; // made by start(), from the checked options

  std::mutex random_mutex;
  std::mt19937_64 random; // guarded by random_mutex

  // `stopping` wakes every call that waits (latency, the slow fault) when the server stops.
  std::mutex stop_mutex;
  std::condition_variable stop_signal;
  bool stopping = false; // guarded by stop_mutex

  httplib::Server server;
  int listen_fd = -1;
  std::uint16_t port = 0;
  std::thread listener;
  std::atomic<bool> listener_ended{false};

  void route();
  // What the online endpoints answer; the Batch API answers its lines with them too.
  Answer chat(const wire::ChatCall& call, std::optional<Fault> fault);
  static Answer embed(const EmbedRequest& call);
  // A model call: counted, authorized, decoded with `decode`, its x-sim-* directives read, its
  // cost admitted by the limits; then `answer` makes the answer that `deliver` sends.
  template <class Call, class MakeAnswer>
  void serve(const httplib::Request& req, httplib::Response& res, Counters::Count& kind,
             Result<Call> (*decode)(std::string_view), MakeAnswer answer);

  bool authorized(const httplib::Request& req, httplib::Response& res);
  bool within_limits(httplib::Response& res, std::uint64_t token_cost);
  void bad_request(httplib::Response& res, std::string_view message);
  // The x-sim-* headers of a call: the fault it forces and the latency it asks for.
  struct Directives {
    std::optional<Fault> fault;
    std::optional<milliseconds> latency;
  };
  std::optional<Directives> directives(const httplib::Request& req, httplib::Response& res);
  std::optional<Fault> draw_fault();
  milliseconds draw_latency();
  void pause(milliseconds duration);
  // `cost`: what the call was charged on admission, settled once the answer is known.
  void deliver(httplib::Response& res, std::optional<Fault> fault,
               std::optional<milliseconds> latency, std::uint64_t cost, Answer answer);
  void settle(std::uint64_t cost, const Usage& usage);
};

void SimState::route() {
  server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    serve(req, res, counters.chat, wire::decode_chat_request,
          [this](const wire::ChatCall& call, std::optional<Fault> fault) {
            return chat(call, fault);
          });
  });
  server.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
    serve(req, res, counters.embeddings, wire::decode_embed_request,
          [](const EmbedRequest& call, std::optional<Fault>) { return embed(call); });
  });
  batch->route(server);
  // Counted before routing: /stats counts every request a batch client makes, whether an
  // endpoint answers it or not.
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    batch->count_request(req.path);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res))
      return;
    // Any model name is accepted (and echoed back); this is the local model's own.
    json model = {{"id", "local"}, {"object", "model"}, {"created", 0}, {"owned_by", "actorflow"}};
    res.set_content(json{{"object", "list"}, {"data", json::array({model})}}.dump(), json_type);
  });
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  auto stats = [this] {
    auto batch_stats = batch->stats(Clock::now()); // first: lines that came due add tokens
    auto out = counters.to_json();
    out["batch"] = std::move(batch_stats);
    return out;
  };
  server.Get("/stats", [stats](const httplib::Request&, httplib::Response& res) {
    res.set_content(stats().dump(), json_type);
  });
  server.Post("/stats/reset", [this, stats](const httplib::Request&, httplib::Response& res) {
    counters.reset();
    batch->reset_stats();
    res.set_content(stats().dump(), json_type);
  });
  // httplib calls this for every status >= 400; only answers without a body need one.
  auto fill_in_error = [](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty())
      return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404)
      answer_error(res, 404, "Unknown request URL: " + req.method + " " + req.path,
                   "invalid_request_error", "unknown_url");
    else
      answer_error(res, res.status, "HTTP " + std::to_string(res.status),
                   res.status >= 500 ? "server_error" : "invalid_request_error");
    return httplib::Server::HandlerResponse::Handled;
  };
  server.set_error_handler(httplib::Server::HandlerWithResponse(fill_in_error));
}

Answer SimState::chat(const wire::ChatCall& call, std::optional<Fault> fault) {
  auto id = "chatcmpl-" + std::to_string(next_id++);
  auto response = local_chat(call.request, default_token_estimator());
  spoil_content(response, fault);
  return chat_answer(call, response, std::move(id));
}

Answer SimState::embed(const EmbedRequest& call) {
  return embed_answer(local_embed(call, default_token_estimator()));
}

template <class Call, class MakeAnswer>
void SimState::serve(const httplib::Request& req, httplib::Response& res, Counters::Count& kind,
                     Result<Call> (*decode)(std::string_view), MakeAnswer answer) {
  CallScope scope(counters, kind);
  if (!authorized(req, res))
    return;
  auto call = decode(req.body);
  if (!call) {
    bad_request(res, call.error().message);
    return;
  }
  auto wanted = directives(req, res);
  if (!wanted)
    return;
  auto cost = cost_of(*call);
  if (!within_limits(res, cost))
    return;
  // Drawn before the answer is made: some faults spoil its content.
  auto fault = wanted->fault ? wanted->fault : draw_fault();
  deliver(res, fault, wanted->latency, cost, answer(*call, fault));
}

bool SimState::authorized(const httplib::Request& req, httplib::Response& res) {
  if (options.api_key.empty())
    return true;
  constexpr std::string_view bearer = "Bearer ";
  auto header = req.get_header_value("Authorization");
  std::string_view sent = header;
  if (sent.starts_with(bearer)) {
    sent.remove_prefix(bearer.size());
    if (sent == options.api_key)
      return true;
  }
  ++counters.unauthorized;
  // The key is echoed in full on purpose: tests use it to prove that clients scrub keys from
  // the error messages they pass on.
  auto message = header.empty()
                     ? std::string("You didn't provide an API key (Authorization: Bearer KEY)")
                     : "Incorrect API key provided: " + std::string(sent);
  answer_error(res, 401, message, "invalid_request_error", "invalid_api_key");
  return false;
}

void SimState::bad_request(httplib::Response& res, std::string_view message) {
  ++counters.bad_request;
  answer_error(res, 400, message, "invalid_request_error");
}

std::optional<SimState::Directives> SimState::directives(const httplib::Request& req,
                                                         httplib::Response& res) {
  Directives out;
  if (req.has_header("x-sim-fault")) {
    auto name = req.get_header_value("x-sim-fault");
    out.fault = parse_name<Fault>(fault_names, name);
    if (!out.fault) {
      bad_request(res,
                  "x-sim-fault: unknown kind '" + name + "' (known: " + join(fault_names) + ")");
      return std::nullopt;
    }
  }
  if (req.has_header("x-sim-latency-ms")) {
    auto text = req.get_header_value("x-sim-latency-ms");
    auto latency_ms = wire::parse_count(text);
    if (!latency_ms) {
      bad_request(res, "x-sim-latency-ms: expected milliseconds, got '" + text + "'");
      return std::nullopt;
    }
    out.latency = milliseconds(*latency_ms);
  }
  return out;
}

bool SimState::within_limits(httplib::Response& res, std::uint64_t token_cost) {
  if (!limiter)
    return true;
  auto limit = options.tokens_per_minute;
  if (limit > 0 && token_cost > limit) {
    ++counters.too_large;
    answer_error(res, 400,
                 "Request too large: it needs " + std::to_string(token_cost) +
                     " tokens (prompt and max_tokens), over the limit of " + std::to_string(limit) +
                     " tokens per minute",
                 "invalid_request_error", "request_too_large");
    return false;
  }
  auto admission = limiter->admit(token_cost, Clock::now());
  wire::Headers headers;
  wire::encode_rate_limits(admission.limits, headers);
  for (auto& [name, value] : headers)
    res.set_header(name, value);
  if (admission.admitted) {
    if (limit > 0)
      counters.tokens_charged += token_cost;
    return true;
  }
  bool on_tokens = admission.limited_by == "tokens";
  ++(on_tokens ? counters.rejected_tokens : counters.rejected_requests);
  auto wait = admission.retry_after;
  wire::Headers retry;
  wire::encode_retry_after(wait, retry);
  for (auto& [name, value] : retry)
    res.set_header(name, value);
  auto message =
      "Rate limit reached for " + std::string(admission.limited_by) + " per minute: limit " +
      std::to_string(on_tokens ? options.tokens_per_minute : options.requests_per_minute) +
      ", requested " + std::to_string(on_tokens ? token_cost : 1) + ". Please try again in " +
      wire::format_duration(wait) + ".";
  answer_error(res, 429, message, admission.limited_by, "rate_limit_exceeded");
  return false;
}

std::optional<Fault> SimState::draw_fault() {
  if (options.fault_rate <= 0)
    return std::nullopt;
  std::lock_guard lock(random_mutex);
  if (!std::bernoulli_distribution(options.fault_rate)(random))
    return std::nullopt;
  std::uniform_int_distribution<std::size_t> pick(0, faults.size() - 1);
  return faults[pick(random)];
}

milliseconds SimState::draw_latency() {
  auto mean = static_cast<double>(options.latency_ms);
  auto jitter = static_cast<double>(options.latency_jitter_ms);
  double drawn = mean;
  if (distribution != LatencyDistribution::fixed && mean + jitter > 0) {
    std::lock_guard lock(random_mutex);
    switch (distribution) {
      case LatencyDistribution::fixed:
        break;
      case LatencyDistribution::uniform:
        drawn = std::uniform_real_distribution<double>(mean - jitter, mean + jitter)(random);
        break;
      case LatencyDistribution::normal:
        if (jitter > 0)
          drawn = std::normal_distribution<double>(mean, jitter)(random);
        break;
      case LatencyDistribution::exponential:
        if (mean > 0)
          drawn = std::exponential_distribution<double>(1.0 / mean)(random);
        break;
    }
  }
  return milliseconds(std::llround(std::max(0.0, drawn)));
}

// Latency is a wait on the handler's own thread: httplib gives each connection a thread
// anyway. It ends early when the server stops, so that a stop is never held up by a call.
void SimState::pause(milliseconds duration) {
  if (duration <= milliseconds::zero())
    return;
  std::unique_lock lock(stop_mutex);
  stop_signal.wait_for(lock, duration, [this] { return stopping; });
}

void SimState::settle(std::uint64_t cost, const Usage& usage) {
  if (!options.settle_tokens || !limiter || options.tokens_per_minute == 0)
    return;
  auto actual = usage.total_tokens;
  if (actual == cost)
    return;
  limiter->settle(static_cast<double>(actual) - static_cast<double>(cost), Clock::now());
  if (actual < cost)
    counters.tokens_refunded += cost - actual;
  else
    counters.tokens_debited += actual - cost;
}

void SimState::deliver(httplib::Response& res, std::optional<Fault> fault,
                       std::optional<milliseconds> latency, std::uint64_t cost, Answer answer) {
  pause(latency ? *latency : draw_latency()); // no draw when the call names one
  if (fault) {
    ++counters.faults[static_cast<std::size_t>(*fault)];
    switch (*fault) {
      case Fault::server_error:
        answer_error(res, 500, "The server had an error while processing your request (sim fault)",
                     "server_error");
        return;
      case Fault::drop:
        drop_connection(res, answer);
        return;
      case Fault::malformed:
        res.set_content(malformed(answer), answer.content_type());
        return;
      case Fault::missing:
        res.set_content(without_result(answer), answer.content_type());
        return;
      case Fault::slow:
        pause(milliseconds(options.slow_ms));
        break; // and then the answer, late
      case Fault::bad_tool_args:
      case Fault::bad_json:
        break; // the answer's content is spoiled already (spoil_content)
      case Fault::rate_limited: {
        wire::Headers retry;
        wire::encode_retry_after(fault_retry_after, retry);
        for (auto& [name, value] : retry)
          res.set_header(name, value);
        answer_error(res, 429,
                     "Rate limit reached for requests (sim fault). Please try again in " +
                         wire::format_duration(fault_retry_after) + ".",
                     "requests", "rate_limit_exceeded");
        return;
      }
    }
  }
  // Settled before the answer goes out: a client that hears it may call again at once.
  settle(cost, answer.usage);
  ++counters.ok;
  counters.prompt_tokens += answer.usage.prompt_tokens;
  counters.completion_tokens += answer.usage.completion_tokens;
  if (answer.events.empty())
    res.set_content(std::move(answer.body), json_type);
  else
    stream_events(res, std::move(answer.events));
}

SimServer::SimServer(SimOptions options) : state_(std::make_unique<SimState>(std::move(options))) {}

SimServer::~SimServer() { stop(); }

Result<std::uint16_t> SimServer::start() {
  auto& s = *state_;
  const auto& options = s.options;
  auto distribution = parse_name<LatencyDistribution>(distribution_names, options.latency_dist);
  if (!distribution)
    return Error{Errc::bad_input, "--latency-dist: unknown distribution '" + options.latency_dist +
                                      "' (known: " + join(distribution_names) + ")"};
  s.distribution = *distribution;
  auto faults = parse_fault_list(options.faults);
  if (!faults)
    return faults.error();
  s.faults = std::move(*faults);
  if (!(options.fault_rate >= 0 && options.fault_rate <= 1))
    return Error{Errc::bad_input, "--fault-rate: expected a probability in [0, 1]"};
  if (!(options.burst_s > 0))
    return Error{Errc::bad_input, "--burst-s: expected a positive number of seconds"};
  if (options.threads == 0)
    return Error{Errc::bad_input, "--threads: expected at least 1"};
  if (!(options.batch_line_fault_rate >= 0 && options.batch_line_fault_rate <= 1))
    return Error{Errc::bad_input, "--batch-line-fault-rate: expected a probability in [0, 1]"};
  // A year at most keeps a job's schedule (steady-clock nanoseconds) far from overflow.
  constexpr std::uint64_t year_ms = 365ULL * 24 * 3600 * 1000;
  if (options.batch_delay_ms > year_ms)
    return Error{Errc::bad_input, "--batch-delay-ms: " + std::to_string(options.batch_delay_ms) +
                                      " is over a year (" + std::to_string(year_ms) + ")"};
  if (options.batch_expire_ms > year_ms)
    return Error{Errc::bad_input, "--batch-expire-ms: " + std::to_string(options.batch_expire_ms) +
                                      " is over a year (" + std::to_string(year_ms) + ")"};
  if (options.requests_per_minute > 0 || options.tokens_per_minute > 0)
    s.limiter.emplace(options, Clock::now());
  s.batch.emplace(
      BatchOptions{.delay = milliseconds(static_cast<milliseconds::rep>(options.batch_delay_ms)),
                   .line_fault_rate = options.batch_line_fault_rate,
                   .expire = milliseconds(static_cast<milliseconds::rep>(options.batch_expire_ms)),
                   .expire_jobs = options.batch_expire_jobs,
                   .enqueued_tokens = options.batch_enqueued_tokens,
                   .seed = options.seed,
                   .fail_uploads = options.batch_fail_uploads,
                   .lose_creates = options.batch_lose_creates,
                   .fail_late = options.batch_fail_late},
      OnlineEndpoints{
          .chat = [&s](const wire::ChatCall& call) { return s.chat(call, std::nullopt); },
          .embed = [](const EmbedRequest& call) { return SimState::embed(call); },
          .authorize = [&s](const httplib::Request& req,
                            httplib::Response& res) { return s.authorized(req, res); }},
      s.counters);

  s.route();
  s.server.new_task_queue = [threads = options.threads] {
    return new httplib::ThreadPool(threads);
  };
  // Room for a batch input file of OpenAI's 200 MB and its multipart envelope; httplib
  // answers a bigger body 413 without reading it into memory.
  s.server.set_payload_max_length(std::size_t{201} * 1024 * 1024);
  // A connection is never closed for the number of requests it served (httplib: 5).
  s.server.set_keep_alive_max_count(1'000'000'000);
  s.server.set_keep_alive_timeout(30);
  s.server.set_tcp_nodelay(true);
  s.server.set_socket_options([&s](socket_t fd) {
    // Replaces httplib's default, which sets SO_REUSEPORT: that would let a second sim share
    // a busy port silently instead of failing with "address in use".
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    s.listen_fd = fd; // the listening socket: options are set on it just before bind
  });
  errno = 0;
  int port = options.port == 0 ? s.server.bind_to_any_port(options.bind)
             : s.server.bind_to_port(options.bind, options.port) ? options.port
                                                                 : -1;
  if (port < 0) {
    int error = errno;
    return Error{Errc::unavailable,
                 "cannot listen on " + options.bind + ":" + std::to_string(options.port) +
                     (error != 0 ? ": " + std::string(std::strerror(error)) : std::string())};
  }
  // httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into Debian's
  // library): when hundreds of clients connect at once, the kernel drops the surplus SYNs and
  // the clients retry only after a second. Listening again on the socket raises the backlog
  // (Linux updates it in place).
  ::listen(s.listen_fd, SOMAXCONN);
  s.port = static_cast<std::uint16_t>(port);
  s.listener = std::thread([&s] {
    s.server.listen_after_bind();
    s.listener_ended = true;
  });
  // httplib's stop() does nothing until its accept loop runs, so a stop() right after start()
  // would be lost. The loop starts within microseconds of the thread.
  while (!s.server.is_running() && !s.listener_ended)
    std::this_thread::yield();
  return s.port;
}

void SimServer::stop() {
  auto& s = *state_;
  {
    std::lock_guard lock(s.stop_mutex);
    if (s.stopping)
      return;
    s.stopping = true;
  }
  s.stop_signal.notify_all();
  if (!s.listener.joinable())
    return;
  s.server.stop(); // closes the listening socket: no new connections from here on
  // httplib 0.11 joins its connection threads on stop, and a thread whose keep-alive
  // connection is idle notices the stop only when the keep-alive timeout (30 s) ends. Shutting
  // the connections down wakes those threads at once. httplib does not expose them, so they
  // are found among the process's descriptors.
  for (int fd : connections_on(s.port))
    ::shutdown(fd, SHUT_RDWR);
  s.listener.join();
}

int run_sim(const SimOptions& options) {
  const auto stop_signals = block_stop_signals(); // before any thread starts

  SimServer server(options);
  auto port = server.start();
  if (!port) {
    std::cerr << "actorflow sim: " << port.error().message << "\n";
    return 1;
  }
  auto host = options.bind.find(':') == std::string::npos ? options.bind : "[" + options.bind + "]";
  std::cout << json{{"listening", host + ":" + std::to_string(*port)}, {"port", *port}}.dump()
            << std::endl;
  wait_for_stop_signal(stop_signals);
  server.stop();
  return 0;
}

} // namespace actorflow::tools
