// The openai_batch provider (see actorflow/openai_batch.hpp). One thread gathers calls into
// groups of one endpoint and model; a group that is full, or has waited max_wait, goes to the
// jobs (BatchJobs: submitted, polled, answered). Every HTTP request goes through the
// provider's BatchApiClient and is awaited by that thread, so jobs never hold a thread each.
// The calls' `done` run on that thread.

#include <actorflow/openai_batch.hpp>

#include "providers/batch_client.hpp"
#include "providers/batch_jobs.hpp"
#include "providers/openai_http.hpp"
#include "providers/openai_wire.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace actorflow {

using namespace openai_http;
using batch::Clock;
using batch::Endpoint;
using batch::GroupKey;
using batch::Waiting;

namespace {

using std::chrono::milliseconds;

/// Calls of one (endpoint, model) gathering for the next job.
struct Gathering {
  std::vector<Waiting> calls;
  Clock::time_point first{};
};

/// A durable call's custom_id: the same for the same call of the same run in any process
/// (see CallOrigin), different for another server, endpoint or request.
std::string durable_custom_id(const std::string& base_url, Endpoint endpoint,
                              const CallOrigin& origin, const std::string& body) {
  return "af-" + checkpoint_item_key(origin.run_id + "\n" + origin.place,
                                     base_url + batch::url_of(endpoint), Value(body));
}

} // namespace

struct OpenAiBatchProvider::Impl {
  Impl(OpenAiConfig c, OpenAiBatchOptions o)
      : config(without_trailing_slash(std::move(c))), problem(check(config)), options(std::move(o)),
        api(config, options, [this](milliseconds delay) { return pause(delay); }),
        jobs(config, options, api, [this](Waiting call) { add(std::move(call)); }) {
    options.max_requests = std::max<std::size_t>(options.max_requests, 1);
    if (!problem && options.leftovers == OpenAiBatchOptions::Leftovers::online && !options.online)
      problem = Error{Errc::bad_input, "openai_batch provider: leftovers go online, but no "
                                       "online provider is given (OpenAiBatchOptions::online)"};
    if (!problem && options.journal && !options.journal->keeps_batch_journal())
      problem = Error{Errc::bad_input, "openai_batch provider: OpenAiBatchOptions::journal: this "
                                       "checkpoint store keeps no batch journal"};
    worker = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    api.stop(); // a request the worker awaits ends now, as cancelled
    worker.join();
    const Error gone{Errc::cancelled, "openai_batch provider: stopped before the call's job ended"};
    for (auto& [key, group] : groups)
      for (auto& call : group.calls)
        call.fail(gone);
    jobs.abandon(gone);
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

  // Names the call: durably when it has an origin and there is a journal to keep it in.
  void name(Waiting& call, const CallOrigin& origin) {
    if (options.journal && !origin.empty()) {
      call.custom_id = durable_custom_id(config.base_url, call.endpoint, origin, call.body);
      call.run_id = origin.run_id;
    } else {
      call.custom_id = "call-" + std::to_string(next_call++);
    }
  }

  // Waits `delay` on the worker; false when the provider stops first.
  bool pause(milliseconds delay) {
    std::unique_lock lock(mutex);
    return !wake.wait_for(lock, delay, [this] { return stopping; });
  }

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
      const auto poll = jobs.next_poll();
      const bool poll_due = poll && *poll <= now;
      if (poll)
        next = std::min(next.value_or(Clock::time_point::max()), *poll);
      if (due.empty() && !poll_due) {
        if (next)
          wake.wait_until(lock, *next);
        else
          wake.wait(lock);
        continue;
      }
      lock.unlock();
      for (auto& [key, calls] : due)
        jobs.dispatch(key, std::move(calls));
      jobs.poll_due();
      lock.lock();
    }
  }
  OpenAiConfig config;
  std::optional<Error> problem;
  OpenAiBatchOptions options;
  std::atomic<std::uint64_t> next_call{1};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;                // guarded by mutex
  std::map<GroupKey, Gathering> groups; // guarded by mutex

  batch::BatchApiClient api;
  batch::BatchJobs jobs; // the worker's own (and the destructor's, once the worker has ended)
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
  call.endpoint = Endpoint::chat;
  call.body = wire::encode_chat_request(request, impl_->config.model, false);
  impl_->name(call, request.origin);
  call.chat_request = std::move(request);
  call.chat_done = std::move(done);
  impl_->add(std::move(call));
}

void OpenAiBatchProvider::embed(EmbedRequest request, EmbedDone done) {
  if (impl_->problem)
    return done(ModelOutcome<Embeddings>(*impl_->problem));
  Waiting call;
  call.endpoint = Endpoint::embeddings;
  call.body = wire::encode_embed_request(request, impl_->config.embedding_model);
  impl_->name(call, request.origin);
  call.embed_request = std::move(request);
  call.embed_done = std::move(done);
  impl_->add(std::move(call));
}

BatchProviderStats OpenAiBatchProvider::stats() const {
  const Impl& i = *impl_;
  const batch::JobCounters& c = i.jobs.counters;
  BatchProviderStats s;
  s.jobs_submitted = c.jobs_submitted;
  s.jobs_completed = c.jobs_completed;
  s.jobs_expired = c.jobs_expired;
  s.jobs_cancelled = c.jobs_cancelled;
  s.jobs_failed = c.jobs_failed;
  s.calls_answered = c.calls_answered;
  s.calls_failed = c.calls_failed;
  s.calls_resubmitted = c.calls_resubmitted;
  s.calls_sent_online = c.calls_sent_online;
  s.calls_requeued = c.calls_requeued;
  s.calls_resumed = c.calls_resumed;
  s.jobs_found = c.jobs_found;
  s.jobs_lost = c.jobs_lost;
  s.submit_retries = i.api.retries;
  s.journal_errors = c.journal_errors;
  s.http_requests = i.api.http_requests;
  return s;
}

std::shared_ptr<OpenAiBatchProvider> make_openai_batch_provider(OpenAiConfig config,
                                                                OpenAiBatchOptions options) {
  return std::make_shared<OpenAiBatchProvider>(std::move(config), std::move(options));
}

} // namespace actorflow
