#pragma once
// The lease of one granted model call: what the call reports when it ends, on whatever thread
// its provider completes it. It returns the grant to its resource controller (release_atom,
// with the call's CallEnd as msgpack fields), counts the call into its run and tells the host.

#include <actorflow/detail/exec_host.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/prices.hpp>
#include <actorflow/result.hpp>

#include "actors/run_hooks.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorflow::actors {

/// How a granted call ended.
struct CallEnd {
  std::uint64_t lease = 0;
  /// Tokens the call used; none: unknown (the estimate stands).
  std::optional<std::uint64_t> actual_tokens;
  RateLimitInfo rate_limits;
  /// The provider answered 429, with this Retry-After (none: not said).
  bool rate_limited = false;
  std::optional<std::chrono::nanoseconds> retry_after;
  /// What the call cost (US dollars); none: unknown (the worst case set aside stands).
  std::optional<double> actual_cost;
};

/// What a lease reports to the run when its call ends.
struct LeaseReport {
  std::shared_ptr<const RunHooks> hooks; // never null
  std::string provider;
  std::string provider_kind; // ModelProvider::kind(), when someone listens (else empty)
  std::string model;
  std::string node;
  std::optional<std::size_t> item;
  std::uint64_t estimated_tokens = 0;
  std::chrono::nanoseconds waited{0};
  // The key's price (none: unpriced), and whether the call goes through a batch API.
  std::optional<Price> price;
  bool batched = false;
  // When the run is traced: the call's span (started at the grant), the span it lies in (the
  // attempt that made the call) and that attempt's number.
  OpenSpan span;
  std::uint64_t span_parent = 0;
  std::uint32_t attempt = 0;
};

/// The lease of a granted call of `controller`.
detail::ModelLeasePtr make_lease(const caf::actor& controller, std::uint64_t id,
                                 LeaseReport report);

/// A CallEnd as a msgpack array, -1 for none (release_atom's fields): [actual tokens, rate
/// limited, retry-after ns, limit/remaining/reset of requests, of tokens, actual cost].
std::vector<char> call_end_fields(const CallEnd& end);
/// The inverse; malformed fields give a CallEnd that reports nothing but the lease.
CallEnd call_end_from(std::uint64_t lease, const std::vector<char>& fields);

/// Reports a call refused before it went out (to the run's meter and on_model_call).
void report_refused(const LeaseReport& report, const Error& error);

} // namespace actorflow::actors
