// The openai_batch provider (see actorflow/openai_batch.hpp). One thread gathers calls into
// jobs, submits them and polls them; every HTTP request goes through the provider's
// BatchApiClient and is awaited by that thread, so jobs never hold a thread each. The calls'
// `done` run on that thread.
//
// The journal (OpenAiBatchOptions::journal), when there is one: a call of a durable run has a
// custom_id made from its CallOrigin and its request, the same in a resumed process. Before a
// due call is submitted it is looked up; one found is attached to its job (polled, or its
// files read, again). A new job is journaled twice: its input file with its calls once
// uploaded, its job id once created; a process killed between the two finds the job by its
// input file (BatchApiClient::create with may_exist).

#include <actorflow/openai_batch.hpp>

#include "providers/batch_client.hpp"
#include "providers/batch_wire.hpp"
#include "providers/openai_http.hpp"
#include "providers/openai_wire.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_set>
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
  std::string run_id; ///< its durable run's; empty: not journaled
  Endpoint endpoint = Endpoint::chat;
  std::string body;              ///< the request's JSON, as the online endpoint takes it
  bool looked_up = false;        ///< looked for in the journal already
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
  GroupKey key;
  std::multimap<std::string, Waiting> calls; ///< by custom_id
  Clock::time_point next_poll;
  milliseconds interval;
  std::uint32_t failed_polls = 0; ///< in a row
};

/// Calls of a job refused for the enqueued-token limit, waiting for a job of `key` to end.
struct Held {
  GroupKey key;
  std::string file_id; ///< their input file, for the next create
  std::vector<Waiting> calls;
};

// A job whose polls fail this many times in a row fails its calls; a call left over by this
// many jobs fails instead of going to another.
constexpr std::uint32_t max_failed_polls = 20;
constexpr std::uint32_t max_resubmits = 3;

/// A durable call's custom_id: the same for the same call of the same run in any process
/// (see CallOrigin), different for another server, endpoint or request.
std::string durable_custom_id(const std::string& base_url, Endpoint endpoint,
                              const CallOrigin& origin, const std::string& body) {
  return "af-" + checkpoint_item_key(origin.run_id + "\n" + origin.place,
                                     base_url + url_of(endpoint), Value(body));
}

} // namespace

struct OpenAiBatchProvider::Impl {
  Impl(OpenAiConfig c, OpenAiBatchOptions o)
      : config(without_trailing_slash(std::move(c))), problem(check(config)), options(std::move(o)),
        api(config, options, [this](milliseconds delay) { return pause(delay); }) {
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
    for (auto& job : jobs)
      for (auto& [id, call] : job.calls)
        call.fail(gone);
    for (auto& entry : held)
      for (auto& call : entry.calls)
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
        dispatch(key, std::move(calls));
      for (auto it = jobs.begin(); it != jobs.end();) {
        if (it->next_poll <= Clock::now() && poll(*it)) {
          const GroupKey key = it->key;
          it = jobs.erase(it);
          release_held(key); // an ended job frees enqueued tokens
        } else {
          ++it;
        }
      }
      lock.lock();
    }
  }

  // Due calls: those the journal knows go back to their jobs, the rest into new ones.
  void dispatch(const GroupKey& key, std::vector<Waiting> calls) {
    std::vector<Waiting> fresh;
    std::map<std::string, std::pair<BatchJobRecord, std::vector<Waiting>>> earlier; // by file
    for (auto& call : calls) {
      if (options.journal && !call.run_id.empty() && !call.looked_up) {
        call.looked_up = true;
        auto found = options.journal->find_batch_call(call.custom_id);
        if (!found) { // fail closed: submitting it could pay for it twice
          ++journal_errors;
          ++calls_failed;
          call.fail(Error{Errc::unavailable,
                          "openai_batch: whether " + call.custom_id +
                              " was submitted before is unknown: " + found.error().message});
          continue;
        }
        if (*found) {
          auto& [record, waiting] = earlier[(*found)->input_file_id];
          record = std::move(**found);
          waiting.push_back(std::move(call));
          continue;
        }
      }
      fresh.push_back(std::move(call));
    }
    for (auto& [file, entry] : earlier)
      resume(key, entry.first, std::move(entry.second));
    for (std::size_t at = 0; at < fresh.size(); at += options.max_requests)
      submit(key, std::vector<Waiting>(
                      std::make_move_iterator(fresh.begin() + static_cast<std::ptrdiff_t>(at)),
                      std::make_move_iterator(
                          fresh.begin() + static_cast<std::ptrdiff_t>(
                                              std::min(fresh.size(), at + options.max_requests)))));
  }

  // Fails `calls`, and forgets them unless their job may exist (`keep`): a resumed run must
  // find that job rather than submit them again.
  void fail_all(std::vector<Waiting>& calls, const Error& error, bool keep = false) {
    if (!keep)
      forget(calls);
    for (auto& call : calls)
      call.fail(error);
    calls_failed += calls.size();
  }

  // -- the journal -----------------------------------------------------------------------------

  static bool any_durable(const std::vector<Waiting>& calls) {
    return std::any_of(calls.begin(), calls.end(),
                       [](const Waiting& call) { return !call.run_id.empty(); });
  }

  // Journals the job of input file `file_id`: with `calls` (its durable ones) once uploaded,
  // with its `job_id` once created.
  void journal(const std::string& file_id, const std::string& job_id, const GroupKey& key,
               const std::vector<Waiting>& calls, bool with_calls) {
    if (!options.journal || !any_durable(calls))
      return;
    BatchJobRecord record{config.base_url, file_id, job_id, url_of(key.first), {}};
    if (with_calls)
      for (const auto& call : calls)
        if (!call.run_id.empty())
          record.calls.push_back({call.custom_id, call.run_id});
    if (!options.journal->save_batch_job(record))
      ++journal_errors;
  }

  template <class Calls>
  void forget(const Calls& calls) {
    if (!options.journal)
      return;
    std::vector<std::string> ids;
    for (const auto& entry : calls) {
      const Waiting& call = waiting_of(entry);
      if (!call.run_id.empty())
        ids.push_back(call.custom_id);
    }
    if (!ids.empty() && !options.journal->forget_batch_calls(ids))
      ++journal_errors;
  }
  static const Waiting& waiting_of(const Waiting& call) { return call; }
  static const Waiting& waiting_of(const std::pair<const std::string, Waiting>& entry) {
    return entry.second;
  }

  // -- jobs ------------------------------------------------------------------------------------

  void submit(const GroupKey& key, std::vector<Waiting> calls) {
    // One id twice in a file fails the whole job: a second call under a durable id (the same
    // run resumed twice at once) goes under an id of its own, unjournaled.
    std::unordered_set<std::string> ids;
    std::vector<wire::BatchRequestLine> lines;
    lines.reserve(calls.size());
    for (auto& call : calls) {
      if (!ids.insert(call.custom_id).second) {
        call.custom_id = "call-" + std::to_string(next_call++);
        call.run_id.clear();
      }
      lines.push_back({call.custom_id, url_of(call.endpoint), call.body});
    }
    auto file_id = api.upload(wire::encode_batch_input(lines));
    if (!file_id)
      return fail_all(calls, file_id.error());
    journal(*file_id, "", key, calls, true);
    create(key, *file_id, std::move(calls), false);
  }

  // Creates (or finds, `may_exist`) the job of input file `file_id` and tracks it.
  void create(const GroupKey& key, const std::string& file_id, std::vector<Waiting> calls,
              bool may_exist) {
    auto created = api.create(file_id, url_of(key.first), may_exist);
    if (!created)
      return fail_all(calls, created.error(), may_exist);
    const auto& job = created->job;
    journal(file_id, job.id, key, calls, false);
    created->found ? ++jobs_found : ++jobs_submitted; // counted once journaled
    if (job.status == "failed")
      return refused(job, key, file_id, std::move(calls), open_jobs(key, ""));
    track(key, job.id, std::move(calls), Clock::now() + api.jittered(options.poll_initial));
  }

  // Calls the journal found in the job of `record`, made by an earlier process (or by this
  // one: a retry of an item that already had its answer).
  void resume(const GroupKey& key, const BatchJobRecord& record, std::vector<Waiting> calls) {
    calls_resumed += calls.size();
    if (!record.job_id.empty())
      return track(key, record.job_id, std::move(calls), Clock::now());
    create(key, record.input_file_id, std::move(calls), true); // its create went unanswered
  }

  // Adds `calls` to the job `id` polled by this thread (a new one, first polled at `first`).
  // A call may join a job that holds its id already (its run cancelled and resumed here):
  // the job's line answers both.
  void track(const GroupKey& key, const std::string& id, std::vector<Waiting> calls,
             Clock::time_point first) {
    auto job = std::find_if(jobs.begin(), jobs.end(), [&](const Job& j) { return j.id == id; });
    if (job == jobs.end())
      job = jobs.insert(jobs.end(), Job{id, key, {}, first, options.poll_initial});
    for (auto& call : calls) {
      auto custom_id = call.custom_id;
      job->calls.emplace(std::move(custom_id), std::move(call));
    }
  }

  // Jobs of `key` being polled, but for job `except`.
  [[nodiscard]] std::size_t open_jobs(const GroupKey& key, const std::string& except) const {
    return static_cast<std::size_t>(std::count_if(
        jobs.begin(), jobs.end(), [&](const Job& j) { return j.key == key && j.id != except; }));
  }

  // A job the server refused (at creation or later). Over the enqueued-token limit while
  // `others` jobs of its model are open, its calls wait for one of those to end, then go in a
  // job made from the same file; otherwise they fail.
  void refused(const wire::BatchJobStatus& job, const GroupKey& key, const std::string& file_id,
               std::vector<Waiting> calls, std::size_t others) {
    ++jobs_failed;
    if (job.errors.find("token_limit_exceeded") != std::string::npos && others > 0) {
      calls_requeued += calls.size();
      held.push_back(Held{key, file_id, std::move(calls)});
      return;
    }
    fail_all(calls,
             Error{Errc::bad_request, "openai_batch: job " + job.id + " failed: " + job.errors});
  }

  // A job of `key` ended: what the token limit held back for it is submitted again.
  void release_held(const GroupKey& key) {
    std::vector<Held> now;
    for (auto it = held.begin(); it != held.end();) {
      if (it->key == key) {
        now.push_back(std::move(*it));
        it = held.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& entry : now)
      create(entry.key, entry.file_id, std::move(entry.calls), false);
  }

  // Polls `job` once; true when it has ended and every call of it was dealt with.
  bool poll(Job& job) {
    bool gone = false;
    auto status = api.retrieve(job.id, gone);
    // Polls again later; `failed`: this poll failed (a job still at work is no failure).
    auto later = [&](bool failed, const std::string& why) {
      job.failed_polls = failed ? job.failed_polls + 1 : 0;
      if (job.failed_polls >= max_failed_polls) {
        forget(job.calls); // a resumed run would wait for them just as long
        for (auto& [id, call] : job.calls)
          call.fail(Error{Errc::bad_response, "openai_batch: job " + job.id + ": " +
                                                  std::to_string(max_failed_polls) +
                                                  " polls in a row failed: " + why});
        calls_failed += job.calls.size();
        job.calls.clear();
        return true;
      }
      job.interval = std::min(job.interval * 2, options.poll_max);
      job.next_poll = Clock::now() + api.jittered(job.interval);
      return false;
    };
    if (!status) {
      if (gone) // the server does not know the job (another key or project, or deleted)
        return lost(job, "job " + job.id + " is unknown to the server");
      return later(true, status.error().message); // a blip of the network or the server
    }
    if (!status->ended())
      return later(false, "");
    if (status->status == "failed") {
      std::vector<Waiting> calls;
      for (auto& [id, call] : job.calls)
        calls.push_back(std::move(call));
      job.calls.clear();
      refused(*status, job.key, status->input_file_id, std::move(calls),
              open_jobs(job.key, job.id));
      return true;
    }
    std::vector<wire::BatchAnswerLine> answers;
    std::vector<std::string> problems;
    for (const std::string& file : {status->output_file_id, status->error_file_id}) {
      if (file.empty())
        continue;
      bool file_gone = false;
      auto read = api.read_file(file, file_gone);
      if (!read && file_gone)
        return lost(job, "file " + file + " of job " + job.id + " is unknown to the server");
      if (!read)
        return later(true, read.error().message); // read both files again next time
      auto lines = wire::decode_batch_answers(*read, problems);
      std::move(lines.begin(), lines.end(), std::back_inserter(answers));
    }
    if (status->status == "completed")
      ++jobs_completed;
    else if (status->status == "expired")
      ++jobs_expired;
    else
      ++jobs_cancelled;
    std::vector<std::pair<Waiting, Error>> failed_lines;
    for (auto& answer : answers) {
      if (answer.status == 0 &&
          (answer.error_code == "batch_expired" || answer.error_code == "batch_cancelled"))
        continue; // a leftover, dealt with below
      auto [first, last] = job.calls.equal_range(answer.custom_id);
      for (auto it = first; it != last; ++it)
        if (auto error = complete(job, it->second, answer))
          failed_lines.emplace_back(std::move(it->second), std::move(*error));
      job.calls.erase(first, last);
    }
    // Forgotten before they are told: a retry of one of them must be submitted anew.
    std::vector<Waiting> failed_calls;
    for (auto& [call, error] : failed_lines)
      failed_calls.push_back(std::move(call));
    forget(failed_calls);
    for (std::size_t i = 0; i < failed_calls.size(); ++i)
      failed_calls[i].fail(std::move(failed_lines[i].second));
    calls_failed += failed_calls.size();

    std::string why = "job " + job.id + " " + status->status;
    if (!problems.empty())
      why += " (its files had lines that do not decode: " + problems.front() + ")";
    if (status->status == "expired" || status->status == "cancelled")
      return leftovers(job, status->status == "expired", why);
    // A completed job that has no line for the call: sending it again could pay twice.
    forget(job.calls);
    for (auto& [id, call] : job.calls)
      call.fail(Error{Errc::bad_response,
                      "openai_batch: " + why + " without an answer for " + call.custom_id});
    calls_failed += job.calls.size();
    job.calls.clear();
    return true;
  }

  // The job's calls that it will never answer go on as `leftovers` says; true (the job is done
  // with).
  bool leftovers(Job& job, bool expired, const std::string& why) {
    if (options.leftovers != OpenAiBatchOptions::Leftovers::resubmit)
      forget(job.calls); // a resubmission journals them under their new job
    for (auto& [id, call] : job.calls)
      leftover(std::move(call), expired, why);
    job.calls.clear();
    return true;
  }

  // A job, or its answer files, the server no longer knows: nothing will answer its calls.
  bool lost(Job& job, const std::string& why) {
    ++jobs_lost;
    return leftovers(job, false, why);
  }

  // Completes `call` with its line when it is an answer; else the error to fail it with (the
  // caller fails it, after forgetting it).
  std::optional<Error> complete(const Job& job, Waiting& call,
                                const wire::BatchAnswerLine& answer) {
    const std::string where = "openai_batch: job " + job.id + ", " + call.custom_id;
    if (answer.status == 0)
      return Error{Errc::bad_request,
                   where + ": " + answer.error_code + ": " + answer.error_message};
    if (answer.status != 200) {
      http::Response r;
      r.status = answer.status;
      r.body = answer.body;
      auto error = http_error(r, where);
      error.message = scrub(std::move(error.message), config.api_key);
      return error;
    }
    if (call.endpoint == Endpoint::chat) {
      auto response = wire::decode_chat_response(answer.body);
      if (!response)
        return Error{response.error().code, where + ": " + response.error().message};
      ++calls_answered;
      call.chat_done(ModelOutcome<ChatResponse>(std::move(*response)));
      return std::nullopt;
    }
    auto embeddings = wire::decode_embed_response(answer.body, call.embed_request.texts.size());
    if (!embeddings)
      return Error{embeddings.error().code, where + ": " + embeddings.error().message};
    ++calls_answered;
    call.embed_done(ModelOutcome<Embeddings>(std::move(*embeddings)));
    return std::nullopt;
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
        forget(std::span<const Waiting>(&call, 1));
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
      calls_sent_online{0}, calls_requeued{0}, calls_resumed{0}, jobs_found{0}, jobs_lost{0},
      journal_errors{0};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;                // guarded by mutex
  std::map<GroupKey, Gathering> groups; // guarded by mutex
  // The worker's own (and the destructor's, once the worker has ended):
  std::vector<Job> jobs;
  std::vector<Held> held; // refused for the enqueued-token limit: sent when a job ends

  batch::BatchApiClient api;
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
  BatchProviderStats s;
  s.jobs_submitted = i.jobs_submitted;
  s.jobs_completed = i.jobs_completed;
  s.jobs_expired = i.jobs_expired;
  s.jobs_cancelled = i.jobs_cancelled;
  s.jobs_failed = i.jobs_failed;
  s.calls_answered = i.calls_answered;
  s.calls_failed = i.calls_failed;
  s.calls_resubmitted = i.calls_resubmitted;
  s.calls_sent_online = i.calls_sent_online;
  s.calls_requeued = i.calls_requeued;
  s.calls_resumed = i.calls_resumed;
  s.jobs_found = i.jobs_found;
  s.jobs_lost = i.jobs_lost;
  s.submit_retries = i.api.retries;
  s.journal_errors = i.journal_errors;
  s.http_requests = i.api.http_requests;
  return s;
}

std::shared_ptr<OpenAiBatchProvider> make_openai_batch_provider(OpenAiConfig config,
                                                                OpenAiBatchOptions options) {
  return std::make_shared<OpenAiBatchProvider>(std::move(config), std::move(options));
}

} // namespace actorflow
