#pragma once
// Resource controllers: one actor per (provider, model) key, made on first use, that grants
// model calls under the key's Limits (a LimitScheduler on the runtime's clock) and settles
// their leases. See actorflow/limits.hpp for what a controller guarantees.

#include "actors/messages.hpp"

#include <actorflow/context.hpp>
#include <actorflow/limits.hpp>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::actors {

/// The controllers of one Runtime. Thread-safe.
class LimitControllers {
public:
  LimitControllers(caf::actor_system& system, std::map<std::string, Limits> config);
  ~LimitControllers();
  LimitControllers(const LimitControllers&) = delete;
  LimitControllers& operator=(const LimitControllers&) = delete;

  /// The controller of (provider, model), made on first use with the limits configured for
  /// "provider/model", else "provider", else none; invalid once stopped.
  [[nodiscard]] caf::actor controller(std::string_view provider, std::string_view model);
  /// A lease id unique within the Runtime (the asker picks it, so it can cancel before the
  /// answer comes).
  [[nodiscard]] std::uint64_t next_lease_id() noexcept;
  [[nodiscard]] std::vector<LimitStats> stats() const;
  /// Run `run` has ended: every controller forgets its budget.
  void run_ended(std::uint64_t run);
  /// Stops every controller (at shutdown); no new one is made after.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// What a lease reports to the run when its call ends.
struct LeaseReport {
  std::shared_ptr<const RunHooks> hooks; // never null
  std::string provider;
  std::string model;
  std::string node;
  std::optional<std::size_t> item;
  std::uint64_t estimated_tokens = 0;
  std::chrono::nanoseconds waited{0};
  // When the run is traced: the call's span (started at the grant), the span it lies in (the
  // attempt that made the call) and that attempt's number.
  OpenSpan span;
  std::uint64_t span_parent = 0;
  std::uint32_t attempt = 0;
};

/// The lease of a granted call of `controller`.
detail::ModelLeasePtr make_lease(const caf::actor& controller, std::uint64_t id,
                                 LeaseReport report);

/// A CallEnd as a msgpack array of integers, -1 for none (release_atom's fields):
/// [actual tokens, rate limited, retry-after ns, limit/remaining/reset of requests, of tokens].
std::vector<char> call_end_fields(const CallEnd& end);
/// The inverse; malformed fields give a CallEnd that reports nothing but the lease.
CallEnd call_end_from(std::uint64_t lease, const std::vector<char>& fields);

/// Reports a call refused before it went out (to the run's meter and on_model_call).
void report_refused(const LeaseReport& report, const Error& error);

} // namespace actorflow::actors
