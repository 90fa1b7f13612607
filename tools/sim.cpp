// `actorflow sim` (see sim.hpp). A model call goes through, in order: authorization, decoding
// of the body and of the x-sim-* headers, the size check, the rate limits (a 429 answers at
// once), the fault draw, the latency wait, and then the answer (which settles the token bucket
// with its actual usage) or the fault.
#include "sim.hpp"
#include "stop_signals.hpp"

#include "providers/openai_wire.hpp"

#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/tokens.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
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

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* json_type = "application/json";
constexpr const char* sse_type = "text/event-stream";

// -- options ----------------------------------------------------------------------------------

// Both enums below are spelled on the command line as their names, in declaration order.
enum class Fault : std::uint8_t { server_error, drop, malformed, missing, slow };
constexpr std::array<std::string_view, 5> fault_names{"500", "drop", "malformed", "missing",
                                                      "slow"};
enum class LatencyDistribution : std::uint8_t { fixed, uniform, normal, exponential };
constexpr std::array<std::string_view, 4> distribution_names{"fixed", "uniform", "normal",
                                                             "exponential"};

template <class Enum, std::size_t n>
std::optional<Enum> parse_name(const std::array<std::string_view, n>& names,
                               std::string_view name) {
  auto found = std::find(names.begin(), names.end(), name);
  if (found == names.end())
    return std::nullopt;
  return static_cast<Enum>(found - names.begin());
}

template <std::size_t n>
std::string join(const std::array<std::string_view, n>& names) {
  std::string out;
  for (auto name : names)
    out.append(out.empty() ? "" : ", ").append(name);
  return out;
}

Result<std::vector<Fault>> parse_fault_list(std::string_view list) {
  std::vector<Fault> faults;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    auto fault = parse_name<Fault>(fault_names, name);
    if (!fault)
      return Error{Errc::bad_input, "--faults: unknown kind '" + std::string(name) +
                                        "' (known: " + join(fault_names) + ")"};
    faults.push_back(*fault);
  }
  if (faults.empty())
    return Error{Errc::bad_input, "--faults: no kind given"};
  return faults;
}

// -- rate limits ------------------------------------------------------------------------------

// A token bucket refilled continuously. A call takes what it costs even when that is more than
// the bucket holds, so the level may go negative: a big call is paid for by the calls after it.
struct Bucket {
  std::uint64_t per_minute;
  double per_second;
  double capacity;
  double level;
  Clock::time_point refilled;

  Bucket(std::uint64_t limit_per_minute, double burst_s, Clock::time_point now)
      : per_minute(limit_per_minute), per_second(static_cast<double>(limit_per_minute) / 60.0),
        capacity(std::max(1.0, per_second * burst_s)), level(capacity), refilled(now) {}

  void refill(Clock::time_point now) {
    std::chrono::duration<double> elapsed = now - refilled;
    level = std::min(capacity, level + elapsed.count() * per_second);
    refilled = now;
  }
  [[nodiscard]] double seconds_until(double amount) const {
    return level >= amount ? 0.0 : (amount - level) / per_second;
  }
  // Where clients stand (OpenAI's x-ratelimit-* headers): the limit, what is left, and when
  // the bucket is full again.
  void describe(std::optional<std::uint64_t>& limit, std::optional<std::uint64_t>& remaining,
                std::optional<milliseconds>& reset) const {
    limit = per_minute;
    remaining = static_cast<std::uint64_t>(std::floor(std::max(0.0, level)));
    reset = milliseconds(std::llround(std::ceil((capacity - level) / per_second * 1000)));
  }
};

struct Admission {
  bool admitted = true;
  std::string_view limited_by; ///< "requests" or "tokens" when refused
  milliseconds retry_after{0};
  RateLimitInfo limits; ///< the buckets after the call, for the x-ratelimit-* headers
};

// The request and token buckets, changed together under one lock: a call is admitted only if
// both let it pass, and then pays both.
class Limiter {
public:
  Limiter(const SimOptions& options, Clock::time_point now) {
    if (options.requests_per_minute > 0)
      requests_.emplace(options.requests_per_minute, options.burst_s, now);
    if (options.tokens_per_minute > 0)
      tokens_.emplace(options.tokens_per_minute, options.burst_s, now);
  }

  Admission admit(std::uint64_t token_cost, Clock::time_point now) {
    Admission out;
    std::lock_guard lock(mutex_);
    auto cost = static_cast<double>(token_cost);
    double requests_wait = 0;
    double tokens_wait = 0;
    if (requests_) {
      requests_->refill(now);
      requests_wait = requests_->seconds_until(1.0);
    }
    if (tokens_) {
      tokens_->refill(now);
      // Asking for more than a full bucket would never pass; a full bucket admits the call.
      tokens_wait = tokens_->seconds_until(std::min(cost, tokens_->capacity));
    }
    if (requests_wait == 0 && tokens_wait == 0) {
      if (requests_)
        requests_->level -= 1.0;
      if (tokens_)
        tokens_->level -= cost;
    } else {
      out.admitted = false;
      out.limited_by = tokens_wait > requests_wait ? "tokens" : "requests";
      auto wait_ms = std::ceil(std::max(requests_wait, tokens_wait) * 1000);
      out.retry_after = milliseconds(std::max<long long>(1, std::llround(wait_ms)));
    }
    // Only the numbers are taken under the lock; the caller formats the headers.
    auto& info = out.limits;
    if (requests_)
      requests_->describe(info.limit_requests, info.remaining_requests, info.reset_requests);
    if (tokens_)
      tokens_->describe(info.limit_tokens, info.remaining_tokens, info.reset_tokens);
    return out;
  }

  /// Corrects the token bucket by `delta` tokens: negative, a refund (up to a full bucket);
  /// positive, a debt. Refilled first, so that a refund is capped by the level of `now`.
  void settle(double delta, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (!tokens_)
      return;
    tokens_->refill(now);
    tokens_->level = std::min(tokens_->capacity, tokens_->level - delta);
  }

private:
  std::mutex mutex_;
  std::optional<Bucket> requests_;
  std::optional<Bucket> tokens_;
};

// -- statistics -------------------------------------------------------------------------------

struct Counters {
  using Count = std::atomic<std::uint64_t>;
  Count chat{0}, embeddings{0}, ok{0};
  Count rejected_requests{0}, rejected_tokens{0}, too_large{0};
  Count unauthorized{0}, bad_request{0};
  std::array<Count, fault_names.size()> faults{};
  Count prompt_tokens{0}, completion_tokens{0};
  // The token bucket (--tpm only): the cost of every admitted call, and the corrections of
  // settling. What the bucket was charged in all is charged - refunded + debited.
  Count tokens_charged{0}, tokens_refunded{0}, tokens_debited{0};
  Count in_flight{0}, max_in_flight{0};

  [[nodiscard]] json to_json() const {
    json fault_counts = json::object();
    for (std::size_t i = 0; i < faults.size(); ++i)
      fault_counts[std::string(fault_names[i])] = faults[i].load();
    // Every model call is a chat or an embedding; every rejection is on requests or tokens.
    auto chats = chat.load();
    auto embeds = embeddings.load();
    auto on_requests = rejected_requests.load();
    auto on_tokens = rejected_tokens.load();
    return {{"requests", chats + embeds}, {"chat", chats},
            {"embeddings", embeds}, {"ok", ok.load()},
            {"rejected", on_requests + on_tokens}, {"rejected_requests", on_requests},
            {"rejected_tokens", rejected_tokens.load()}, {"too_large", too_large.load()},
            {"unauthorized", unauthorized.load()}, {"bad_request", bad_request.load()},
            {"faults", fault_counts}, {"prompt_tokens", prompt_tokens.load()},
            {"completion_tokens", completion_tokens.load()},
            {"tokens_charged", tokens_charged.load()}, {"tokens_refunded", tokens_refunded.load()},
            {"tokens_debited", tokens_debited.load()}, {"in_flight", in_flight.load()},
            {"max_in_flight", max_in_flight.load()}};
  }

  // Everything but in_flight, which counts calls still being served.
  void reset() {
    for (Count* count : {&chat, &embeddings, &ok, &rejected_requests,
                         &rejected_tokens, &too_large, &unauthorized, &bad_request,
                         &prompt_tokens, &completion_tokens, &tokens_charged,
                         &tokens_refunded, &tokens_debited})
      count->store(0);
    for (auto& count : faults)
      count.store(0);
    max_in_flight.store(in_flight.load());
  }
};

// Counts one model call for /stats while its handler runs.
class CallScope {
public:
  CallScope(Counters& counters, Counters::Count& kind) : counters_(counters) {
    ++kind;
    auto now = ++counters.in_flight;
    auto seen = counters.max_in_flight.load();
    while (seen < now && !counters.max_in_flight.compare_exchange_weak(seen, now)) {
    }
  }
  ~CallScope() { --counters_.in_flight; }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

private:
  Counters& counters_;
};

// -- answers ----------------------------------------------------------------------------------

// What a model call answers, and what a fault needs to spoil it.
struct Answer {
  std::string body;                ///< the JSON answer; empty for a stream
  std::vector<std::string> events; ///< a stream's server-sent events; empty: not a stream
  Usage usage;
  std::string object; ///< "chat.completion", "chat.completion.chunk" or "list"
  std::string id;     ///< of a chat completion
  std::int64_t created = 0;
  std::string model;
  [[nodiscard]] const char* content_type() const { return events.empty() ? json_type : sse_type; }
  [[nodiscard]] std::string whole() const {
    std::string out = body;
    for (const auto& event : events)
      out += event;
    return out;
  }
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// The text cut before each word, whitespace joined to the word after it (roughly a token at a
// time, as a model streams); concatenated, the pieces give the text back.
std::vector<std::string_view> word_pieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (is_space(text[i]) && !is_space(text[i - 1])) {
      pieces.push_back(text.substr(start, i - start));
      start = i;
    }
  }
  if (start < text.size())
    pieces.push_back(text.substr(start));
  return pieces;
}

Answer chat_answer(const wire::ChatCall& call, const ChatResponse& response, std::string id) {
  Answer out{.body = {}, .events = {}, .usage = response.usage, .object = "chat.completion",
             .id = std::move(id), .created = unix_now(), .model = response.model};
  if (!call.stream) {
    out.body = wire::encode_chat_response(response, out.id, out.created);
    return out;
  }
  out.object = "chat.completion.chunk";
  for (auto piece : word_pieces(response.text))
    out.events.push_back(wire::encode_chat_chunk(out.id, out.created, out.model, piece,
                                                 std::nullopt, std::nullopt));
  out.events.push_back(wire::encode_chat_chunk(
      out.id, out.created, out.model, "", response.finish_reason,
      call.include_usage ? std::optional<Usage>(response.usage) : std::nullopt));
  out.events.emplace_back(wire::sse_done());
  return out;
}

// What a call reserves, as the runtime's resource controllers count it.
std::uint64_t cost_of(const wire::ChatCall& call) { return reserved_tokens(call.request); }
std::uint64_t cost_of(const EmbedRequest& request) { return reserved_tokens(request); }

Answer embed_answer(const Embeddings& embeddings) {
  return Answer{.body = wire::encode_embed_response(embeddings), .events = {},
                .usage = embeddings.usage, .object = "list", .id = {}, .created = 0,
                .model = embeddings.model};
}

// The answer's envelope, valid JSON (in a stream, a valid event) without `choices` / `data`.
std::string without_result(const Answer& answer) {
  json head = {{"object", answer.object}, {"model", answer.model}};
  if (!answer.id.empty()) {
    head["id"] = answer.id;
    head["created"] = answer.created;
  }
  if (answer.events.empty())
    return head.dump();
  return "data: " + head.dump() + "\n\n" + std::string(wire::sse_done());
}

// An answer that is not JSON: the body cut in half (for a stream, the first event is cut and
// the stream then ends normally, so the client has an undecodable event to report).
std::string malformed(const Answer& answer) {
  if (answer.events.empty())
    return answer.body.substr(0, answer.body.size() / 2);
  const auto& first = answer.events.front();
  return first.substr(0, first.size() / 2) + "\n\n" + std::string(wire::sse_done());
}

// The `drop` fault. The headers promise the whole body, half of it is sent, and then the
// content provider fails: httplib gives up on the connection and closes it mid-body. Clients
// see a broken transfer (curl: "transfer closed with outstanding read data remaining",
// httplib: Error::Read), never a complete response.
void drop_connection(httplib::Response& res, const Answer& answer) {
  auto body = answer.whole();
  auto size = body.size();
  res.set_content_provider(
      size, answer.content_type(),
      [body = std::move(body)](std::size_t offset, std::size_t, httplib::DataSink& sink) {
        if (offset == 0)
          sink.write(body.data(), body.size() / 2);
        return false;
      });
}

// One HTTP chunk per event, so a client sees the pieces arrive one by one.
void stream_events(httplib::Response& res, std::vector<std::string> events) {
  res.set_chunked_content_provider(
      sse_type, [events = std::move(events)](std::size_t, httplib::DataSink& sink) {
        for (const auto& event : events)
          if (!sink.write(event.data(), event.size()))
            return false;
        sink.done();
        return true;
      });
}

void answer_error(httplib::Response& res, int status, std::string_view message,
                  std::string_view type, std::string_view code = {}) {
  res.status = status;
  res.set_content(wire::encode_error(message, type, code), json_type);
}

// Sockets in this process that are connected through local port `port`: the server side of
// the sim's connections.
std::vector<int> connections_on(std::uint16_t port) {
  std::vector<int> found;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return found;
  int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    auto number = wire::parse_count(entry->d_name);
    if (!number || static_cast<int>(*number) == own)
      continue;
    int fd = static_cast<int>(*number);
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0)
      continue; // not a socket
    std::uint16_t local_port = 0;
    if (local.ss_family == AF_INET)
      local_port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    else if (local.ss_family == AF_INET6)
      local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    sockaddr_storage peer{};
    size = sizeof peer;
    if (local_port == port && ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) == 0)
      found.push_back(fd);
  }
  ::closedir(dir);
  return found;
}

} // namespace

// -- the server -------------------------------------------------------------------------------

struct SimState {
  explicit SimState(SimOptions opts) : options(std::move(opts)), random(options.seed) {}

  SimOptions options;
  LatencyDistribution distribution = LatencyDistribution::fixed;
  std::vector<Fault> faults;
  std::optional<Limiter> limiter;
  Counters counters;
  std::atomic<std::uint64_t> next_id{1};

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
  void deliver(httplib::Response& res, const Directives& directives, std::uint64_t cost,
               Answer answer);
  void settle(std::uint64_t cost, const Usage& usage);
};

void SimState::route() {
  server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    serve(req, res, counters.chat, wire::decode_chat_request, [this](const wire::ChatCall& call) {
      auto id = "chatcmpl-" + std::to_string(next_id++);
      return chat_answer(call, local_chat(call.request, default_token_estimator()), std::move(id));
    });
  });
  server.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
    serve(req, res, counters.embeddings, wire::decode_embed_request, [](const EmbedRequest& call) {
      return embed_answer(local_embed(call, default_token_estimator()));
    });
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
  server.Get("/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(counters.to_json().dump(), json_type);
  });
  server.Post("/stats/reset", [this](const httplib::Request&, httplib::Response& res) {
    counters.reset();
    res.set_content(counters.to_json().dump(), json_type);
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
  deliver(res, *wanted, cost, answer(*call));
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
      bad_request(res, "x-sim-fault: unknown kind '" + name + "' (known: " + join(fault_names) +
                           ")");
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
                     " tokens (prompt and max_tokens), over the limit of " +
                     std::to_string(limit) + " tokens per minute",
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
  auto message = "Rate limit reached for " + std::string(admission.limited_by) +
                 " per minute: limit " +
                 std::to_string(on_tokens ? options.tokens_per_minute
                                          : options.requests_per_minute) +
                 ", requested " + std::to_string(on_tokens ? token_cost : 1) +
                 ". Please try again in " + wire::format_duration(wait) + ".";
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

void SimState::deliver(httplib::Response& res, const Directives& wanted, std::uint64_t cost,
                       Answer answer) {
  auto fault = wanted.fault ? wanted.fault : draw_fault();
  pause(wanted.latency ? *wanted.latency : draw_latency()); // no draw when the call names one
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
    return Error{Errc::bad_input, "--latency-dist: unknown distribution '" +
                                      options.latency_dist + "' (known: " +
                                      join(distribution_names) + ")"};
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
  if (options.requests_per_minute > 0 || options.tokens_per_minute > 0)
    s.limiter.emplace(options, Clock::now());

  s.route();
  s.server.new_task_queue = [threads = options.threads] {
    return new httplib::ThreadPool(threads);
  };
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
    return Error{Errc::unavailable, "cannot listen on " + options.bind + ":" +
                                        std::to_string(options.port) +
                                        (error != 0 ? ": " + std::string(std::strerror(error))
                                                    : std::string())};
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
  auto host = options.bind.find(':') == std::string::npos ? options.bind
                                                           : "[" + options.bind + "]";
  std::cout << json{{"listening", host + ":" + std::to_string(*port)}, {"port", *port}}.dump()
            << std::endl;
  wait_for_stop_signal(stop_signals);
  server.stop();
  return 0;
}

} // namespace actorflow::tools
