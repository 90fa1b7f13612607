// The openai_batch provider (see actorflow/openai_batch.hpp). One thread gathers calls into
// jobs, submits them and polls them; every HTTP request goes through the provider's libcurl
// client and is awaited by that thread, so jobs never hold a thread each. The calls' `done`
// run on that thread.

#include <actorflow/openai_batch.hpp>

#include "providers/batch_wire.hpp"
#include "providers/http_client.hpp"
#include "providers/openai_http.hpp"
#include "providers/openai_wire.hpp"
#include "providers/wire_json.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace actorflow {

using namespace openai_http;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class Endpoint : std::uint8_t { chat, embeddings };

const char* url_of(Endpoint endpoint) {
  return endpoint == Endpoint::chat ? "/v1/chat/completions" : "/v1/embeddings";
}

/// One call waiting for its answer: what to send, and whom to tell.
struct Waiting {
  std::string custom_id;
  Endpoint endpoint = Endpoint::chat;
  std::string body;              ///< the request's JSON, as the online endpoint takes it
  std::uint32_t resubmitted = 0; ///< times it went into a new job after one ended without it
  ChatRequest chat_request;
  EmbedRequest embed_request;
  ModelProvider::ChatDone chat_done;
  ModelProvider::EmbedDone embed_done;

  void fail(Error error) {
    if (endpoint == Endpoint::chat)
      chat_done(ModelOutcome<ChatResponse>(std::move(error)));
    else
      embed_done(ModelOutcome<Embeddings>(std::move(error)));
  }
};

/// Calls of one (endpoint, model) gathering for the next job.
struct Gathering {
  std::vector<Waiting> calls;
  Clock::time_point first{};
};
using GroupKey = std::pair<Endpoint, std::string>;

struct Job {
  std::string id;
  std::map<std::string, Waiting> calls; ///< by custom_id
  Clock::time_point next_poll;
  milliseconds interval;
  std::uint32_t failed_polls = 0; ///< in a row
};

// A job whose polls fail this many times in a row fails its calls; a call left over by this
// many jobs fails instead of going to another.
constexpr std::uint32_t max_failed_polls = 20;
constexpr std::uint32_t max_resubmits = 3;

} // namespace

struct OpenAiBatchProvider::Impl {
  Impl(OpenAiConfig c, OpenAiBatchOptions o)
      : config(without_trailing_slash(std::move(c))), problem(check(config)), options(std::move(o)),
        client(config.max_connections, request_headers(config, false)) {
    options.max_requests = std::max<std::size_t>(options.max_requests, 1);
    if (!problem && options.leftovers == OpenAiBatchOptions::Leftovers::online && !options.online)
      problem = Error{Errc::bad_input, "openai_batch provider: leftovers go online, but no "
                                       "online provider is given (OpenAiBatchOptions::online)"};
    worker = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    client.stop(); // a request the worker awaits ends now, as cancelled
    worker.join();
    const Error gone{Errc::cancelled, "openai_batch provider: stopped before the call's job ended"};
    for (auto& [key, group] : groups)
      for (auto& call : group.calls)
        call.fail(gone);
    for (auto& job : jobs)
      for (auto& [id, call] : job.calls)
        call.fail(gone);
  }

  void add(Waiting call) {
    {
      std::lock_guard lock(mutex);
      if (!stopping) {
        auto& group = groups[GroupKey{call.endpoint, model_of(call)}];
        if (group.calls.empty())
          group.first = Clock::now();
        group.calls.push_back(std::move(call));
        wake.notify_one();
        return;
      }
    }
    call.fail(Error{Errc::cancelled, "openai_batch provider: stopping"});
  }

  std::string model_of(const Waiting& call) const {
    const std::string& asked =
        call.endpoint == Endpoint::chat ? call.chat_request.model : call.embed_request.model;
    if (!asked.empty())
      return asked;
    return call.endpoint == Endpoint::chat ? config.model : config.embedding_model;
  }

  std::string next_custom_id() { return "call-" + std::to_string(next_call++); }

  // -- the worker ----------------------------------------------------------------------------

  void run() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      const auto now = Clock::now();
      std::vector<std::pair<GroupKey, std::vector<Waiting>>> due;
      std::optional<Clock::time_point> next;
      for (auto it = groups.begin(); it != groups.end();) {
        auto& group = it->second;
        if (group.calls.size() >= options.max_requests || now >= group.first + options.max_wait) {
          due.emplace_back(it->first, std::move(group.calls));
          it = groups.erase(it);
          continue;
        }
        next = std::min(next.value_or(Clock::time_point::max()), group.first + options.max_wait);
        ++it;
      }
      bool poll_due = false;
      for (const auto& job : jobs) {
        poll_due = poll_due || job.next_poll <= now;
        next = std::min(next.value_or(Clock::time_point::max()), job.next_poll);
      }
      if (due.empty() && !poll_due) {
        if (next)
          wake.wait_until(lock, *next);
        else
          wake.wait(lock);
        continue;
      }
      lock.unlock();
      for (auto& [key, calls] : due)
        for (std::size_t at = 0; at < calls.size(); at += options.max_requests)
          submit(key, std::vector<Waiting>(
                          std::make_move_iterator(calls.begin() + static_cast<std::ptrdiff_t>(at)),
                          std::make_move_iterator(calls.begin() +
                                                  static_cast<std::ptrdiff_t>(std::min(
                                                      calls.size(), at + options.max_requests)))));
      for (auto it = jobs.begin(); it != jobs.end();) {
        if (it->next_poll <= Clock::now() && poll(*it))
          it = jobs.erase(it);
        else
          ++it;
      }
      lock.lock();
    }
  }

  // One request, awaited.
  http::Response send(http::Request request) {
    request.timeout = config.timeout;
    request.connect_timeout = config.connect_timeout;
    std::promise<http::Response> answered;
    auto answer = answered.get_future();
    ++http_requests;
    client.post(std::move(request),
                [&answered](http::Response response) { answered.set_value(std::move(response)); });
    return answer.get();
  }

  // The error of a request that did not answer 200, or none.
  std::optional<Error> failure(const http::Response& r, const std::string& where) const {
    if (r.transport != http::Transport::ok)
      return transport_error(r, where);
    if (r.status != 200)
      return Error{http_error(r, where).code, scrub(http_error(r, where).message, config.api_key)};
    return std::nullopt;
  }

  void fail_all(std::vector<Waiting>& calls, const Error& error) {
    for (auto& call : calls)
      call.fail(error);
    calls_failed += calls.size();
  }

  milliseconds jittered(milliseconds interval) {
    std::uniform_real_distribution<double> spread(1 - options.poll_jitter, 1 + options.poll_jitter);
    return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(interval.count()) *
                                                       std::max(0.0, spread(rng))));
  }

  void submit(const GroupKey& key, std::vector<Waiting> calls) {
    std::vector<wire::BatchRequestLine> lines;
    lines.reserve(calls.size());
    for (const auto& call : calls)
      lines.push_back({call.custom_id, url_of(call.endpoint), call.body});
    const std::string jsonl = wire::encode_batch_input(lines);
    std::string boundary = "actorflow-batch-" + std::to_string(rng());
    while (jsonl.find(boundary) != std::string::npos)
      boundary += std::to_string(rng() % 10);

    http::Request upload;
    upload.url = config.base_url + "/files";
    upload.headers = {"Content-Type: multipart/form-data; boundary=" + boundary};
    upload.body = wire::encode_batch_upload(jsonl, "actorflow-batch.jsonl", boundary);
    auto uploaded = send(std::move(upload));
    if (auto error = failure(uploaded, "openai_batch: POST " + config.base_url + "/files"))
      return fail_all(calls, *error);
    auto file_id = wire::decode_file_id(uploaded.body);
    if (!file_id)
      return fail_all(calls, file_id.error());

    http::Request create;
    create.url = config.base_url + "/batches";
    create.headers = {"Content-Type: application/json"};
    create.body = wire::to_wire(wire::json{{"input_file_id", *file_id},
                                           {"endpoint", url_of(key.first)},
                                           {"completion_window", options.completion_window}});
    auto created = send(std::move(create));
    if (auto error = failure(created, "openai_batch: POST " + config.base_url + "/batches"))
      return fail_all(calls, *error);
    auto job = wire::decode_batch_job(created.body);
    if (!job)
      return fail_all(calls, job.error());
    ++jobs_submitted;
    if (job->status == "failed") {
      ++jobs_failed;
      return fail_all(calls, Error{Errc::bad_request,
                                   "openai_batch: job " + job->id + " failed: " + job->errors});
    }
    Job open{job->id, {}, Clock::now() + jittered(options.poll_initial), options.poll_initial};
    for (auto& call : calls) {
      auto id = call.custom_id;
      open.calls.emplace(std::move(id), std::move(call));
    }
    jobs.push_back(std::move(open));
  }

  // Polls `job` once; true when it has ended and every call of it was dealt with.
  bool poll(Job& job) {
    const std::string where = "openai_batch: GET " + config.base_url + "/batches/" + job.id;
    http::Request get;
    get.url = config.base_url + "/batches/" + job.id;
    get.get = true;
    auto answered = send(std::move(get));
    // Polls again later; `failed`: this poll failed (a job still at work is no failure).
    auto later = [&](bool failed) {
      job.failed_polls = failed ? job.failed_polls + 1 : 0;
      if (job.failed_polls >= max_failed_polls) {
        for (auto& [id, call] : job.calls)
          call.fail(Error{Errc::bad_response, "openai_batch: job " + job.id + ": " +
                                                  std::to_string(max_failed_polls) +
                                                  " polls in a row failed: " + where});
        calls_failed += job.calls.size();
        job.calls.clear();
        return true;
      }
      job.interval = std::min(job.interval * 2, options.poll_max);
      job.next_poll = Clock::now() + jittered(job.interval);
      return false;
    };
    if (auto error = failure(answered, where)) {
      if (answered.status == 404) { // the job is gone: nothing will answer its calls
        for (auto& [id, call] : job.calls)
          call.fail(*error);
        calls_failed += job.calls.size();
        return true;
      }
      return later(true); // a blip of the network or the server: ask again
    }
    auto status = wire::decode_batch_job(answered.body);
    if (!status)
      return later(true);
    if (!status->ended())
      return later(false);
    if (status->status == "failed") {
      ++jobs_failed;
      for (auto& [id, call] : job.calls)
        call.fail(
            Error{Errc::bad_request, "openai_batch: job " + job.id + " failed: " + status->errors});
      calls_failed += job.calls.size();
      return true;
    }
    std::vector<wire::BatchAnswerLine> answers;
    std::vector<std::string> problems;
    for (const std::string& file : {status->output_file_id, status->error_file_id}) {
      if (file.empty())
        continue;
      http::Request content;
      content.url = config.base_url + "/files/" + file + "/content";
      content.get = true;
      const std::string read_where = "openai_batch: GET " + content.url;
      auto read = send(std::move(content));
      if (failure(read, read_where))
        return later(true); // read both files again next time
      auto lines = wire::decode_batch_answers(read.body, problems);
      std::move(lines.begin(), lines.end(), std::back_inserter(answers));
    }
    if (status->status == "completed")
      ++jobs_completed;
    else if (status->status == "expired")
      ++jobs_expired;
    else
      ++jobs_cancelled;
    for (auto& answer : answers) {
      auto it = job.calls.find(answer.custom_id);
      if (it == job.calls.end())
        continue; // not ours, or answered twice
      if (answer.status == 0 &&
          (answer.error_code == "batch_expired" || answer.error_code == "batch_cancelled"))
        continue; // a leftover, dealt with below
      complete(job, it->second, answer);
      job.calls.erase(it);
    }
    std::string why = "job " + job.id + " " + status->status;
    if (!problems.empty())
      why += " (its files had lines that do not decode: " + problems.front() + ")";
    const bool cut_short = status->status == "expired" || status->status == "cancelled";
    for (auto& [id, call] : job.calls) {
      if (cut_short) {
        leftover(std::move(call), status->status == "expired", why);
        continue;
      }
      // A completed job that has no line for the call: sending it again could pay twice.
      ++calls_failed;
      call.fail(Error{Errc::bad_response,
                      "openai_batch: " + why + " without an answer for " + call.custom_id});
    }
    job.calls.clear();
    return true;
  }

  void complete(const Job& job, Waiting& call, const wire::BatchAnswerLine& answer) {
    const std::string where = "openai_batch: job " + job.id + ", " + call.custom_id;
    if (answer.status == 0) {
      ++calls_failed;
      return call.fail(
          Error{Errc::bad_request, where + ": " + answer.error_code + ": " + answer.error_message});
    }
    if (answer.status != 200) {
      ++calls_failed;
      http::Response r;
      r.status = answer.status;
      r.body = answer.body;
      auto error = http_error(r, where);
      error.message = scrub(std::move(error.message), config.api_key);
      return call.fail(std::move(error));
    }
    if (call.endpoint == Endpoint::chat) {
      auto response = wire::decode_chat_response(answer.body);
      if (!response) {
        ++calls_failed;
        return call.fail(Error{response.error().code, where + ": " + response.error().message});
      }
      ++calls_answered;
      return call.chat_done(ModelOutcome<ChatResponse>(std::move(*response)));
    }
    auto embeddings = wire::decode_embed_response(answer.body, call.embed_request.texts.size());
    if (!embeddings) {
      ++calls_failed;
      return call.fail(Error{embeddings.error().code, where + ": " + embeddings.error().message});
    }
    ++calls_answered;
    call.embed_done(ModelOutcome<Embeddings>(std::move(*embeddings)));
  }

  // A call its job did not answer: expired or cancelled.
  void leftover(Waiting call, bool expired, const std::string& why) {
    switch (options.leftovers) {
      case OpenAiBatchOptions::Leftovers::resubmit:
        if (call.resubmitted < max_resubmits) {
          ++call.resubmitted;
          ++calls_resubmitted;
          return add(std::move(call));
        }
        ++calls_failed;
        return call.fail(Error{expired ? Errc::timeout : Errc::cancelled,
                               "openai_batch: " + why + " before answering " + call.custom_id +
                                   ", the " + std::to_string(max_resubmits + 1) +
                                   "th job to hold it"});
      case OpenAiBatchOptions::Leftovers::online:
        ++calls_sent_online;
        // Priced as what it is now: an online call.
        if (call.endpoint == Endpoint::chat)
          return options.online->chat(
              std::move(call.chat_request),
              [done = std::move(call.chat_done)](ModelOutcome<ChatResponse> outcome) {
                outcome.batched = false;
                done(std::move(outcome));
              });
        return options.online->embed(
            std::move(call.embed_request),
            [done = std::move(call.embed_done)](ModelOutcome<Embeddings> outcome) {
              outcome.batched = false;
              done(std::move(outcome));
            });
      case OpenAiBatchOptions::Leftovers::fail:
        ++calls_failed;
        return call.fail(Error{expired ? Errc::timeout : Errc::cancelled,
                               "openai_batch: " + why + " before answering " + call.custom_id});
    }
  }

  OpenAiConfig config;
  std::optional<Error> problem;
  OpenAiBatchOptions options;
  std::atomic<std::uint64_t> next_call{1};
  std::atomic<std::uint64_t> jobs_submitted{0}, jobs_completed{0}, jobs_expired{0},
      jobs_cancelled{0}, jobs_failed{0}, calls_answered{0}, calls_failed{0}, calls_resubmitted{0},
      calls_sent_online{0}, http_requests{0};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;                // guarded by mutex
  std::map<GroupKey, Gathering> groups; // guarded by mutex
  // The worker's own (and the destructor's, once the worker has ended):
  std::vector<Job> jobs;
  std::mt19937_64 rng{std::random_device{}()};

  http::Client client;
  std::thread worker;
};

OpenAiBatchProvider::OpenAiBatchProvider(OpenAiConfig config, OpenAiBatchOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}
OpenAiBatchProvider::~OpenAiBatchProvider() = default;

std::string OpenAiBatchProvider::default_model() const { return impl_->config.model; }
std::string OpenAiBatchProvider::default_embedding_model() const {
  return impl_->config.embedding_model;
}
bool OpenAiBatchProvider::supports_json_schema() const noexcept {
  return impl_->config.json_schema;
}

void OpenAiBatchProvider::chat(ChatRequest request, ChatDone done) {
  if (impl_->problem)
    return done(ModelOutcome<ChatResponse>(*impl_->problem));
  request.on_token = nullptr; // a batch answers whole
  Waiting call;
  call.custom_id = impl_->next_custom_id();
  call.endpoint = Endpoint::chat;
  call.body = wire::encode_chat_request(request, impl_->config.model, false);
  call.chat_request = std::move(request);
  call.chat_done = std::move(done);
  impl_->add(std::move(call));
}

void OpenAiBatchProvider::embed(EmbedRequest request, EmbedDone done) {
  if (impl_->problem)
    return done(ModelOutcome<Embeddings>(*impl_->problem));
  Waiting call;
  call.custom_id = impl_->next_custom_id();
  call.endpoint = Endpoint::embeddings;
  call.body = wire::encode_embed_request(request, impl_->config.embedding_model);
  call.embed_request = std::move(request);
  call.embed_done = std::move(done);
  impl_->add(std::move(call));
}

BatchProviderStats OpenAiBatchProvider::stats() const {
  const Impl& i = *impl_;
  return BatchProviderStats{i.jobs_submitted, i.jobs_completed,    i.jobs_expired,
                            i.jobs_cancelled, i.jobs_failed,       i.calls_answered,
                            i.calls_failed,   i.calls_resubmitted, i.calls_sent_online,
                            i.http_requests};
}

std::shared_ptr<OpenAiBatchProvider> make_openai_batch_provider(OpenAiConfig config,
                                                                OpenAiBatchOptions options) {
  return std::make_shared<OpenAiBatchProvider>(std::move(config), std::move(options));
}

} // namespace actorflow
