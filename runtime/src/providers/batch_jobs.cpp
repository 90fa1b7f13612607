// The openai_batch provider's jobs (see batch_jobs.hpp).
//
// The journal (OpenAiBatchOptions::journal), when there is one: a call of a durable run has a
// custom_id made from its CallOrigin and its request, the same in a resumed process. Before a
// due call is submitted it is looked up; one found is attached to its job (polled, or its
// files read, again). A new job is journaled twice: its input file with its calls once
// uploaded, its job id once created; a process killed between the two finds the job by its
// input file (BatchApiClient::create with may_exist).

#include "providers/batch_jobs.hpp"

#include "providers/openai_http.hpp"
#include "providers/openai_wire.hpp"

#include <algorithm>
#include <iterator>
#include <span>
#include <unordered_set>

namespace actorflow::batch {

using namespace openai_http;
using std::chrono::milliseconds;

namespace {

// A job whose polls fail this many times in a row fails its calls; a call left over by this
// many jobs fails instead of going to another.
constexpr std::uint32_t max_failed_polls = 20;
constexpr std::uint32_t max_resubmits = 3;
// A file the enqueued-token limit refused is created again this many times with no other job
// of its model open (nothing of ours would free tokens), then its calls fail.
constexpr std::uint32_t max_lone_tries = 3;

const Waiting& waiting_of(const Waiting& call) { return call; }
const Waiting& waiting_of(const std::pair<const std::string, Waiting>& entry) {
  return entry.second;
}

} // namespace

void Waiting::fail(Error error) {
  if (endpoint == Endpoint::chat)
    chat_done(ModelOutcome<ChatResponse>(std::move(error)));
  else
    embed_done(ModelOutcome<Embeddings>(std::move(error)));
}

void BatchJobs::poll_due() {
  std::vector<GroupKey> freed; // models one of whose jobs ran and ended
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->next_poll <= Clock::now() && poll(*it)) {
      if (!it->refused)
        freed.push_back(it->key);
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
  release_held(freed);
}

std::optional<Clock::time_point> BatchJobs::next_poll() const {
  std::optional<Clock::time_point> next;
  for (const auto& job : jobs_)
    next = std::min(next.value_or(Clock::time_point::max()), job.next_poll);
  return next;
}

void BatchJobs::abandon(const Error& error) {
  for (auto& job : jobs_)
    for (auto& [id, call] : job.calls)
      call.fail(error);
  jobs_.clear();
  for (auto& entry : held_)
    for (auto& call : entry.calls)
      call.fail(error);
  held_.clear();
}

// Due calls: those the journal knows go back to their jobs, the rest into new ones.
void BatchJobs::dispatch(const GroupKey& key, std::vector<Waiting> calls) {
  std::vector<Waiting> fresh;
  std::map<std::string, std::pair<BatchJobRecord, std::vector<Waiting>>> earlier; // by file
  for (auto& call : calls) {
    if (options_.journal && !call.run_id.empty() && !call.looked_up) {
      call.looked_up = true;
      auto found = options_.journal->find_batch_call(call.custom_id);
      if (!found) { // fail closed: submitting it could pay for it twice
        ++counters.journal_errors;
        ++counters.calls_failed;
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
  for (std::size_t at = 0; at < fresh.size(); at += options_.max_requests)
    submit(key, std::vector<Waiting>(
                    std::make_move_iterator(fresh.begin() + static_cast<std::ptrdiff_t>(at)),
                    std::make_move_iterator(
                        fresh.begin() + static_cast<std::ptrdiff_t>(
                                            std::min(fresh.size(), at + options_.max_requests)))));
}

// Fails `calls`, and forgets them unless their job may exist (`keep`): a resumed run must
// find that job rather than submit them again.
void BatchJobs::fail_all(std::vector<Waiting>& calls, const Error& error, bool keep) {
  if (!keep)
    forget(calls);
  for (auto& call : calls)
    call.fail(error);
  counters.calls_failed += calls.size();
}

// Journals the job of input file `file_id` with its durable `calls`, once uploaded.
void BatchJobs::journal_upload(const std::string& file_id, const GroupKey& key,
                               const std::vector<Waiting>& calls) {
  if (!options_.journal)
    return;
  BatchJobRecord record{config_.base_url, file_id, "", url_of(key.first), {}};
  for (const auto& call : calls)
    if (!call.run_id.empty())
      record.calls.push_back({call.custom_id, call.run_id});
  if (!record.calls.empty() && !options_.journal->save_batch_job(record))
    ++counters.journal_errors;
}

// Journals the job id of input file `file_id` ("": none that answers its calls). The store
// keeps no row for a file without durable calls.
void BatchJobs::journal_job_id(const std::string& file_id, const std::string& job_id,
                               const GroupKey& key) {
  if (options_.journal &&
      !options_.journal->save_batch_job({config_.base_url, file_id, job_id, url_of(key.first), {}}))
    ++counters.journal_errors;
}

template <class Calls>
void BatchJobs::forget(const Calls& calls) {
  if (!options_.journal)
    return;
  std::vector<std::string> ids;
  for (const auto& entry : calls) {
    const Waiting& call = waiting_of(entry);
    if (!call.run_id.empty())
      ids.push_back(call.custom_id);
  }
  if (!ids.empty() && !options_.journal->forget_batch_calls(ids))
    ++counters.journal_errors;
}

void BatchJobs::submit(const GroupKey& key, std::vector<Waiting> calls) {
  // One line per custom_id: a second call under a durable id (its run resumed here while the
  // first waits, or twice at once) waits for the same line.
  std::unordered_set<std::string> ids;
  std::vector<wire::BatchRequestLine> lines;
  lines.reserve(calls.size());
  for (const auto& call : calls)
    if (ids.insert(call.custom_id).second)
      lines.push_back({call.custom_id, url_of(call.endpoint), call.body});
  auto file_id = api_.upload(wire::encode_batch_input(lines));
  if (!file_id)
    return fail_all(calls, file_id.error());
  journal_upload(*file_id, key, calls);
  create(key, *file_id, std::move(calls), false);
}

// Creates (or finds, `may_exist`) the job of input file `file_id` and tracks it. A create
// whose outcome stays unknown is tracked as a job without an id, looked for at each poll.
// `tries`: creates of this file the token limit refused with no other job open.
void BatchJobs::create(const GroupKey& key, const std::string& file_id, std::vector<Waiting> calls,
                       bool may_exist, std::uint32_t tries) {
  auto created = api_.create(file_id, url_of(key.first), may_exist);
  if (!created) {
    if (may_exist) // failing them would let a retry pay for them twice
      return track(key, "", file_id, std::move(calls),
                   Clock::now() + api_.jittered(options_.poll_initial), tries);
    return fail_all(calls, created.error());
  }
  const auto& job = created->job;
  journal_job_id(file_id, job.id, key);
  created->found ? ++counters.jobs_found : ++counters.jobs_submitted; // counted once journaled
  if (job.status == "failed")
    return refused(job, key, file_id, std::move(calls), tries);
  track(key, job.id, file_id, std::move(calls), Clock::now() + api_.jittered(options_.poll_initial),
        tries);
}

// Calls the journal found in the job of `record`, made by an earlier process (or by this
// one: a retry of an item that already had its answer).
void BatchJobs::resume(const GroupKey& key, const BatchJobRecord& record,
                       std::vector<Waiting> calls) {
  counters.calls_resumed += calls.size();
  for (auto& entry : held_) // its file waits here for the token limit: so do they
    if (entry.key == key && entry.file_id == record.input_file_id) {
      std::move(calls.begin(), calls.end(), std::back_inserter(entry.calls));
      return;
    }
  if (!record.job_id.empty())
    return track(key, record.job_id, record.input_file_id, std::move(calls), Clock::now(), 0);
  create(key, record.input_file_id, std::move(calls), true); // its create went unanswered
}

// Adds `calls` to the job `id` (or, without an id, the unknown job of `file_id`) polled by
// this thread; a new one is first polled at `first`. A call may join a job that holds its id
// already (its run cancelled and resumed here): the job's line answers both.
void BatchJobs::track(const GroupKey& key, const std::string& id, const std::string& file_id,
                      std::vector<Waiting> calls, Clock::time_point first, std::uint32_t tries) {
  auto job = std::find_if(jobs_.begin(), jobs_.end(), [&](const Job& j) {
    return id.empty() ? j.id.empty() && j.file_id == file_id : j.id == id;
  });
  if (job == jobs_.end()) {
    job = jobs_.insert(jobs_.end(), Job{id, file_id, key, {}, first, options_.poll_initial});
    job->tries = tries;
  }
  for (auto& call : calls) {
    auto custom_id = call.custom_id;
    job->calls.emplace(std::move(custom_id), std::move(call));
  }
}

// Jobs of `key` that may hold enqueued tokens (not refused).
std::size_t BatchJobs::open_jobs(const GroupKey& key) const {
  return static_cast<std::size_t>(std::count_if(
      jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.key == key && !j.refused; }));
}

// A job the server refused (at creation or later). Over the enqueued-token limit, its calls
// wait (see release_held) and go in a job made from the same file; else they fail.
void BatchJobs::refused(const wire::BatchJobStatus& job, const GroupKey& key,
                        const std::string& file_id, std::vector<Waiting> calls,
                        std::uint32_t tries) {
  ++counters.jobs_failed;
  if (job.errors.find("token_limit_exceeded") == std::string::npos)
    return fail_all(
        calls, Error{Errc::bad_request, "openai_batch: job " + job.id + " failed: " + job.errors});
  counters.calls_requeued += calls.size();
  journal_job_id(file_id, "", key); // not that job: a resumed call must not find it
  std::string why = "job " + job.id + " failed: " + job.errors;
  for (auto& entry : held_)
    if (entry.key == key && entry.file_id == file_id) {
      std::move(calls.begin(), calls.end(), std::back_inserter(entry.calls));
      entry.why = std::move(why);
      return;
    }
  held_.push_back(Held{key, file_id, std::move(calls), tries, std::move(why)});
}

// After a sweep of polls (never during one: creating a job adds to `jobs`): the held files of
// a model one of whose jobs ran and ended (`freed`) get a job again; so do those of a model
// with no job open (nothing of ours would free tokens), a few times, then their calls fail.
// Returns with every held file waiting on an open job, or failed.
void BatchJobs::release_held(const std::vector<GroupKey>& freed) {
  for (bool first = true; !held_.empty(); first = false) {
    std::vector<Held> due;
    for (auto it = held_.begin(); it != held_.end();) {
      const bool ended = first && std::find(freed.begin(), freed.end(), it->key) != freed.end();
      const bool alone = open_jobs(it->key) == 0;
      if (!ended && !alone) {
        ++it;
        continue;
      }
      if (!ended)
        ++it->tries;
      due.push_back(std::move(*it));
      it = held_.erase(it);
    }
    if (due.empty())
      return;
    for (auto& entry : due) {
      if (entry.tries > max_lone_tries) {
        fail_all(entry.calls,
                 Error{Errc::bad_request,
                       "openai_batch: " + entry.why + " (refused " + std::to_string(entry.tries) +
                           " times with no other job of " + entry.key.second + " open)"});
        continue;
      }
      create(entry.key, entry.file_id, std::move(entry.calls), false, entry.tries);
    }
  }
}

// A job whose create went unanswered: found (or created) now, or looked for again later.
// False while it is still unknown; true when its calls were dealt with.
bool BatchJobs::find_unknown(Job& job, const Later& later) {
  bool may_exist = true;
  auto created = api_.create(job.file_id, url_of(job.key.first), may_exist);
  if (!created) {
    if (may_exist)
      return later(true, created.error().message);
    std::vector<Waiting> calls = take_calls(job);
    fail_all(calls, created.error());
    return true;
  }
  job.id = created->job.id;
  journal_job_id(job.file_id, job.id, job.key);
  created->found ? ++counters.jobs_found : ++counters.jobs_submitted;
  if (created->job.status == "failed") {
    job.refused = true;
    refused(created->job, job.key, job.file_id, take_calls(job), job.tries);
    return true;
  }
  return later(false, "");
}

std::vector<Waiting> BatchJobs::take_calls(Job& job) {
  std::vector<Waiting> calls;
  calls.reserve(job.calls.size());
  for (auto& [id, call] : job.calls)
    calls.push_back(std::move(call));
  job.calls.clear();
  return calls;
}

// Polls `job` once; true when it has ended and every call of it was dealt with.
bool BatchJobs::poll(Job& job) {
  // Polls again later; `failed`: this poll failed (a job still at work is no failure).
  auto later = [&](bool failed, const std::string& why) {
    job.failed_polls = failed ? job.failed_polls + 1 : 0;
    if (job.failed_polls >= max_failed_polls) {
      // Kept in the journal: the job may yet answer them, for a resumed run.
      for (auto& [id, call] : job.calls)
        call.fail(Error{Errc::bad_response, "openai_batch: job " +
                                                (job.id.empty() ? "of " + job.file_id : job.id) +
                                                ": " + std::to_string(max_failed_polls) +
                                                " polls in a row failed: " + why});
      counters.calls_failed += job.calls.size();
      job.calls.clear();
      return true;
    }
    job.interval = std::min(job.interval * 2, options_.poll_max);
    job.next_poll = Clock::now() + api_.jittered(job.interval);
    return false;
  };
  if (job.id.empty())
    return find_unknown(job, later);
  bool gone = false;
  auto status = api_.retrieve(job.id, gone);
  if (!status) {
    if (gone) // the server does not know the job (another key or project, or deleted)
      return lost(job, "job " + job.id + " is unknown to the server");
    return later(true, status.error().message); // a blip of the network or the server
  }
  if (!status->ended())
    return later(false, "");
  if (status->status == "failed") {
    job.refused = true;
    refused(*status, job.key, job.file_id, take_calls(job), job.tries);
    return true;
  }
  std::vector<wire::BatchAnswerLine> answers;
  std::vector<std::string> problems;
  std::string missing; // a file the server no longer has: its lines' calls are leftovers
  for (const std::string& file : {status->output_file_id, status->error_file_id}) {
    if (file.empty())
      continue;
    bool file_gone = false;
    auto read = api_.read_file(file, file_gone);
    if (!read && file_gone) {
      missing = "file " + file + " of job " + job.id + " is unknown to the server";
      continue;
    }
    if (!read)
      return later(true, read.error().message); // read both files again next time
    auto lines = wire::decode_batch_answers(*read, problems);
    std::move(lines.begin(), lines.end(), std::back_inserter(answers));
  }
  if (status->status == "completed")
    ++counters.jobs_completed;
  else if (status->status == "expired")
    ++counters.jobs_expired;
  else
    ++counters.jobs_cancelled;
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
  counters.calls_failed += failed_calls.size();

  std::string why = "job " + job.id + " " + status->status;
  if (!problems.empty())
    why += " (its files had lines that do not decode: " + problems.front() + ")";
  if (status->status == "expired" || status->status == "cancelled")
    return leftovers(job, status->status == "expired", why);
  if (!missing.empty())
    return lost(job, missing);
  // A completed job that has no line for the call: sending it again could pay twice.
  forget(job.calls);
  for (auto& [id, call] : job.calls)
    call.fail(Error{Errc::bad_response,
                    "openai_batch: " + why + " without an answer for " + call.custom_id});
  counters.calls_failed += job.calls.size();
  job.calls.clear();
  return true;
}

// The job's calls that it will never answer go on as `leftovers` says; true (the job is done
// with).
bool BatchJobs::leftovers(Job& job, bool expired, const std::string& why) {
  if (options_.leftovers != OpenAiBatchOptions::Leftovers::resubmit)
    forget(job.calls); // a resubmission journals them under their new job
  for (auto& [id, call] : job.calls)
    leftover(std::move(call), expired, why);
  job.calls.clear();
  return true;
}

// A job, or its answer files, the server no longer knows: nothing will answer its calls.
bool BatchJobs::lost(Job& job, const std::string& why) {
  ++counters.jobs_lost;
  return leftovers(job, false, why);
}

// Completes `call` with its line when it is an answer; else the error to fail it with (the
// caller fails it, after forgetting it).
std::optional<Error> BatchJobs::complete(const Job& job, Waiting& call,
                                         const wire::BatchAnswerLine& answer) {
  const std::string where = "openai_batch: job " + job.id + ", " + call.custom_id;
  if (answer.status == 0)
    return Error{Errc::bad_request, where + ": " + answer.error_code + ": " + answer.error_message};
  if (answer.status != 200) {
    http::Response r;
    r.status = answer.status;
    r.body = answer.body;
    auto error = http_error(r, where);
    error.message = scrub(std::move(error.message), config_.api_key);
    return error;
  }
  if (call.endpoint == Endpoint::chat) {
    auto response = wire::decode_chat_response(answer.body);
    if (!response)
      return Error{response.error().code, where + ": " + response.error().message};
    ++counters.calls_answered;
    call.chat_done(ModelOutcome<ChatResponse>(std::move(*response)));
    return std::nullopt;
  }
  auto embeddings = wire::decode_embed_response(answer.body, call.embed_request.texts.size());
  if (!embeddings)
    return Error{embeddings.error().code, where + ": " + embeddings.error().message};
  ++counters.calls_answered;
  call.embed_done(ModelOutcome<Embeddings>(std::move(*embeddings)));
  return std::nullopt;
}

// A call its job did not answer: expired or cancelled.
void BatchJobs::leftover(Waiting call, bool expired, const std::string& why) {
  switch (options_.leftovers) {
    case OpenAiBatchOptions::Leftovers::resubmit:
      if (call.resubmitted < max_resubmits) {
        ++call.resubmitted;
        ++counters.calls_resubmitted;
        return resubmit_(std::move(call));
      }
      ++counters.calls_failed;
      forget(std::span<const Waiting>(&call, 1));
      return call.fail(Error{expired ? Errc::timeout : Errc::cancelled,
                             "openai_batch: " + why + " before answering " + call.custom_id +
                                 ", the " + std::to_string(max_resubmits + 1) +
                                 "th job to hold it"});
    case OpenAiBatchOptions::Leftovers::online:
      ++counters.calls_sent_online;
      // Priced as what it is now: an online call.
      if (call.endpoint == Endpoint::chat)
        return options_.online->chat(
            std::move(call.chat_request),
            [done = std::move(call.chat_done)](ModelOutcome<ChatResponse> outcome) {
              outcome.batched = false;
              done(std::move(outcome));
            });
      return options_.online->embed(
          std::move(call.embed_request),
          [done = std::move(call.embed_done)](ModelOutcome<Embeddings> outcome) {
            outcome.batched = false;
            done(std::move(outcome));
          });
    case OpenAiBatchOptions::Leftovers::fail:
      ++counters.calls_failed;
      return call.fail(Error{expired ? Errc::timeout : Errc::cancelled,
                             "openai_batch: " + why + " before answering " + call.custom_id});
  }
}

} // namespace actorflow::batch
