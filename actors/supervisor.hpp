#pragma once
// The supervisor: one machine for all supervised work, a single node's exec and each batch
// item alike, so that every rule applies to both. It starts attempts unless the circuit is
// open, gives each attempt its time limit, retries a failure after a backoff (a server's
// Retry-After wins), opens the circuit after too many failures, and reports every step to the
// run's on_attempt hook and its spans. The decisions are plain logic (core/supervision.hpp);
// this class adds the timers, the reports and the spans.
//
// The actor that owns a supervisor runs the attempts (in place, in an item actor, on a cluster
// node) and tells it how each ended. Its timers come back to that actor as
// (retry_atom, key, attempt) and (timeout_atom, key, launch) messages, for the work the actor
// knows by `key` (its slot in a batch; 0 for a single node), which the actor hands to
// `retry_due` and `timed_out`. Not thread-safe: it lives inside its actor.

#include <actorflow/events.hpp>
#include <actorflow/retry.hpp>

#include "actors/node_spec.hpp"
#include "actors/run_hooks.hpp"
#include "core/supervision.hpp"

#include <caf/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace actorflow::actors {

/// One unit of supervised work, from its first attempt to its final outcome.
struct Supervised {
  std::optional<std::size_t> item;     // its index in its batch; none for a single node
  std::uint32_t attempt = 0;           // the latest attempt's number; 0 before the first
  std::uint32_t launch = 0;            // the running attempt's launch number; 0 while none runs
  Millis last_delay{0};                // the backoff before the latest attempt
  std::uint64_t parent_span = 0;       // the span its attempts lie in: the node's, or the item's
  OpenSpan attempt_span, backoff_span; // when the run is traced

  [[nodiscard]] bool running() const noexcept { return launch != 0; }
};

class Supervisor {
public:
  Supervisor(caf::event_based_actor* self, NodeSpecPtr spec, std::optional<RetryPolicy> policy);

  /// The policy and the circuit it supervises by.
  [[nodiscard]] const detail::Supervision& rules() const noexcept { return rules_; }

  /// Starts the next attempt of `work`, or, with `again`, its latest attempt once more (its
  /// cluster node died: that counts as no attempt). Returns the error to settle the work with
  /// when the circuit is open (reported as circuit_rejected); otherwise the attempt has a
  /// launch number, a span and its time limit armed.
  [[nodiscard]] std::optional<Error> begin_attempt(Supervised& work, std::uint32_t key,
                                                   bool again = false);
  /// The running attempt succeeded.
  void succeeded(Supervised& work);
  /// The running attempt failed with `error`; `retryable`: the policy retries it, as decided
  /// where the failure was seen (a failed fallback is final whatever its error). Returns the
  /// error to settle the work with, or nothing when a retry is scheduled.
  [[nodiscard]] std::optional<Error> failed(Supervised& work, std::uint32_t key, const Error& error,
                                            bool retryable);
  /// A (timeout_atom, key, launch) message: the timeout error when `launch` is `work`'s
  /// running attempt (reported as timed_out). The caller then stops the attempt and hands the
  /// error to `failed`, retryable as the policy says (no fallback after a timeout).
  [[nodiscard]] std::optional<Error> timed_out(Supervised& work, std::uint32_t launch);
  /// A (retry_atom, key, attempt) message: whether it is the backoff `work` waits for. Then
  /// the caller starts the next attempt.
  [[nodiscard]] bool retry_due(Supervised& work, std::uint32_t attempt);
  /// The running attempt was lost with the cluster node that ran it: its span ends with `why`;
  /// the caller starts it `again`.
  void lost_launch(Supervised& work, const Error& why);
  /// The work was stopped (its batch stopped, its run was cancelled): its open spans end with
  /// `why`, and it runs no more.
  void stopped(Supervised& work, const Error& why);

  /// Reports a step of `work`'s latest attempt that happened outside the supervisor (a
  /// fallback used).
  void report(AttemptEvent::Kind kind, const Supervised& work, const Error& error,
              Millis delay = Millis{0}) const;

  /// Retries scheduled so far.
  [[nodiscard]] std::uint64_t retries_scheduled() const noexcept { return retries_; }
  [[nodiscard]] std::uint64_t times_opened() const noexcept { return rules_.times_opened(); }

private:
  // Ends `span` of `work` (if open) now; `attempt`: the attempt it belongs to.
  void close_span(const Supervised& work, OpenSpan& span, SpanEvent::Kind kind,
                  std::uint32_t attempt, const Error* error) const;
  [[nodiscard]] std::string what(const Supervised& work) const; // "node 'a' item 3", ...

  caf::event_based_actor* self_;
  NodeSpecPtr spec_;
  detail::Supervision rules_;
  SpanSink* spans_;            // the run's, when it is traced
  std::uint32_t launches_ = 0; // attempts started, numbering them for their timers
  std::uint64_t retries_ = 0;
};

} // namespace actorflow::actors
