#pragma once
/// Request and token limits for model calls (`RuntimeConfig::limits`), and what a Runtime's
/// resource controllers report about them (`Runtime::limit_stats`).
///
/// What a key's controller does with every model call of node code (`ctx.llm().chat(...)`):
/// the call asks for a grant of its estimated tokens (prompt estimate + max_tokens) and waits
/// for it without holding a thread; the grant is a lease, returned when the call ends with the
/// tokens actually used (a refund or a debt). A 429 pauses the key for the server's
/// Retry-After (else a backoff of 1 s doubling to 60 s); x-ratelimit-* headers of a server
/// stricter than the configured limits tighten them. Leases of callers that die or are
/// cancelled come back.

#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>

namespace actorflow {

/// Limits of one (provider, model) key; 0 means "no limit" for each.
struct Limits {
  /// Calls in flight at once.
  std::uint32_t max_concurrent = 0;
  std::uint64_t requests_per_minute = 0;
  /// Counted as prompt estimate + max_tokens when granted, corrected by the actual usage.
  std::uint64_t tokens_per_minute = 0;
  /// The token budget of one run, shared by everything under it (nested flows, batch items).
  /// When it is spent, the run's further calls fail with `budget_exhausted`.
  std::uint64_t tokens_per_run = 0;
  /// The money budget of one run on this key, in US dollars, priced by
  /// `RuntimeConfig::prices` (a key without a price never spends any). Before each call the
  /// worst case of its reservation is set aside (every reserved token at the key's highest
  /// price), and settled with what the call actually cost once it ends. A call that would
  /// take the run past the budget fails with `budget_exhausted`, naming it.
  double money_per_run = 0;
  /// Tokens of calls granted and not yet ended, at most: a batch API's enqueued-token limit
  /// (OpenAI counts the tokens of unfinished batch jobs per model). Calls wait for earlier ones
  /// to end; a call larger than the limit fails at once with bad_request.
  std::uint64_t enqueued_tokens = 0;
  /// Correct the token accounting with each call's actual usage once it ends (a refund when
  /// it used less than reserved, a debt when more), as servers that settle on actual usage
  /// do. False: a call costs its reservation, as servers that count `max_tokens` up front
  /// (OpenAI) do; budgets still count actual usage.
  bool settle_with_actual_usage = true;
};

/// A snapshot of one (provider, model) key's resource controller.
struct LimitStats {
  std::string provider;
  std::string model;
  /// In force: the configured limits, tightened by what the server's headers said.
  Limits limits;
  std::size_t in_flight = 0;
  std::size_t waiting = 0;
  std::uint64_t granted = 0;
  /// Failed without a call: larger than a limit, or over the run's budget.
  std::uint64_t refused = 0;
  /// 429s the provider answered.
  std::uint64_t rate_limited = 0;
  /// Grants and tokens (actual where known) of the last 60 s.
  std::uint64_t requests_last_minute = 0;
  std::uint64_t tokens_last_minute = 0;
  /// Tokens of every call so far (actual where known, else the estimate).
  std::uint64_t tokens_used = 0;
  /// What every call so far cost, in US dollars (0 when the key has no price).
  double cost = 0;
  /// Time from asking to being granted, over the most recent grants (up to 4096).
  std::chrono::nanoseconds wait_p50{0}, wait_p90{0}, wait_p99{0}, wait_max{0};
};

} // namespace actorflow
