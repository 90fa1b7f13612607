#pragma once
// Resource controllers: one actor per (provider, model) key, made on first use, that grants
// model calls under the key's Limits (a LimitScheduler on the runtime's clock) and settles
// their leases. See actorflow/limits.hpp for what a controller guarantees.

#include <actorflow/limits.hpp>
#include <actorflow/prices.hpp>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::actors {

/// The controllers of one Runtime. Thread-safe.
class LimitControllers {
public:
  /// `prices` price each key's reservations for `Limits::money_per_run`.
  LimitControllers(caf::actor_system& system, std::map<std::string, Limits> config,
                   PriceTable prices);
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
  /// Cluster node `node` fell silent: every controller returns what its askers there hold. Sent
  /// as `from`, a local actor: the controllers take this only from this process.
  void node_silent(const caf::node_id& node, const caf::actor& from);
  /// Stops every controller (at shutdown); no new one is made after.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace actorflow::actors
