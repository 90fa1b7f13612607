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
