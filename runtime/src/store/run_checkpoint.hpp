#pragma once
/// What a durable run (one with a checkpoint store and a run id) shares between its actors:
/// the store, the item outcomes committed before a resume, where the root flow starts, and the
/// writer that commits item outcomes as they settle.

#include <actorflow/checkpoint.hpp>

#include "store/item_writer.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace actorflow::detail {

struct RunCheckpoint {
  CheckpointStorePtr store;
  std::string run_id;
  /// Item outcomes committed before this (resumed) run started, by key. Read-only once the
  /// run has started, so actors read it without a lock.
  std::unordered_map<std::string, ItemOutcome> committed;
  /// Resumed: the root flow's vertex to start at, and the steps it had run.
  std::optional<std::size_t> start_vertex;
  std::uint64_t steps_done = 0;
  /// Resumed: the interrupts the run had recorded (given to its InterruptBoard at the start).
  std::vector<Interrupt> interrupts;
  std::unique_ptr<ItemWriter> items;
  /// The run's cost so far (what it had recorded before a resume, plus its meter's): written
  /// with each commit. Set before the run's actors start.
  std::function<double()> cost;
  double cost_before = 0; ///< resumed: the cost the run had recorded
};

} // namespace actorflow::detail
