#pragma once
// What GET /stats reports: counters updated atomically by every handler.

#include "sim/faults.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstdint>

namespace actorflow::tools::sim {

using json = nlohmann::json;

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
    return {{"requests", chats + embeds},
            {"chat", chats},
            {"embeddings", embeds},
            {"ok", ok.load()},
            {"rejected", on_requests + on_tokens},
            {"rejected_requests", on_requests},
            {"rejected_tokens", rejected_tokens.load()},
            {"too_large", too_large.load()},
            {"unauthorized", unauthorized.load()},
            {"bad_request", bad_request.load()},
            {"faults", fault_counts},
            {"prompt_tokens", prompt_tokens.load()},
            {"completion_tokens", completion_tokens.load()},
            {"tokens_charged", tokens_charged.load()},
            {"tokens_refunded", tokens_refunded.load()},
            {"tokens_debited", tokens_debited.load()},
            {"in_flight", in_flight.load()},
            {"max_in_flight", max_in_flight.load()}};
  }

  // Everything but in_flight, which counts calls still being served.
  void reset() {
    for (Count* count : {&chat, &embeddings, &ok, &rejected_requests, &rejected_tokens, &too_large,
                         &unauthorized, &bad_request, &prompt_tokens, &completion_tokens,
                         &tokens_charged, &tokens_refunded, &tokens_debited})
      count->store(0);
    for (auto& count : faults)
      count.store(0);
    max_in_flight.store(in_flight.load());
  }
};

// The Batch API's part of /stats (its "batch" object). `requests` counts every HTTP request to
// /v1/files* and /v1/batches*, answered or not; the line counts grow as lines come due, which
// /stats itself brings up to date (batch_api.hpp: jobs advance when they are looked at).
struct BatchCounters {
  using Count = std::atomic<std::uint64_t>;
  Count requests{0}, files_uploaded{0}, file_reads{0};
  Count batches_created{0}, batch_retrieves{0}, batches_cancelled{0}, batch_lists{0};
  // lines: the requests of every batch that started (a failed batch starts none); each ends as
  // exactly one of ok, failed (answered 4xx or 5xx), expired or cancelled.
  Count lines{0}, lines_ok{0}, lines_failed{0}, lines_expired{0}, lines_cancelled{0};

  [[nodiscard]] json to_json() const {
    return {{"requests", requests.load()},
            {"files_uploaded", files_uploaded.load()},
            {"file_reads", file_reads.load()},
            {"batches_created", batches_created.load()},
            {"batch_retrieves", batch_retrieves.load()},
            {"batches_cancelled", batches_cancelled.load()},
            {"batch_lists", batch_lists.load()},
            {"lines", lines.load()},
            {"lines_ok", lines_ok.load()},
            {"lines_failed", lines_failed.load()},
            {"lines_expired", lines_expired.load()},
            {"lines_cancelled", lines_cancelled.load()}};
  }

  // Every count; the files and jobs themselves stay.
  void reset() {
    for (Count* count : {&requests, &files_uploaded, &file_reads, &batches_created,
                         &batch_retrieves, &batches_cancelled, &batch_lists, &lines, &lines_ok,
                         &lines_failed, &lines_expired, &lines_cancelled})
      count->store(0);
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

} // namespace actorflow::tools::sim
