#pragma once
// What every checkpoint store (SQLite, PostgreSQL) writes and reads the same way, whatever its
// tables: times as stored, the names of statuses, a group's outcomes encoded in one buffer, and
// the errors that name the store and the run. The store is named by its path, or by its URL
// without the password.

#include <actorflow/batch.hpp>
#include <actorflow/checkpoint.hpp>
#include <actorflow/interrupt.hpp>
#include <actorflow/result.hpp>

#include "core/msgpack_pack.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace actorflow::detail {

// What says a store is ours (its meta table's 'application'), as opposed to a database that
// merely has a table called actorflow_meta.
inline constexpr std::string_view checkpoint_store_marker = "actorflow.checkpoints";

// "<store>: not an actorflow checkpoint store: <why>"
[[nodiscard]] Error not_a_checkpoint_store(std::string_view store, std::string_view why);

// The refusal of a store marked with schema version `found`, which this build does not read:
// newer than checkpoint_schema_version, or older than `oldest_readable`.
[[nodiscard]] Error unreadable_schema_version(std::string_view store, std::int64_t found,
                                              std::int64_t oldest_readable);

// Times are stored as milliseconds since the epoch.
[[nodiscard]] std::int64_t to_ms(std::chrono::system_clock::time_point time);
[[nodiscard]] std::int64_t now_ms();
[[nodiscard]] std::chrono::system_clock::time_point from_ms(std::int64_t ms);

// The status stored under `name` ("running", ...); an error naming the store, the run and the
// name for one this build does not know.
[[nodiscard]] Result<RunStatus> run_status_named(std::string_view store, std::string_view run_id,
                                                 std::string_view name);
[[nodiscard]] std::optional<InterruptStatus> interrupt_status_named(std::string_view name);

// "no run 'r' in <store>"
[[nodiscard]] Error no_run(std::string_view store, std::string_view run_id);

// "<store>: begin_run: run 'r' is already recorded"
[[nodiscard]] Error run_recorded_already(std::string_view store, std::string_view run_id);

// "<store>: run 'r': <what> does not decode: <error>"
[[nodiscard]] Error undecodable(std::string_view store, std::string_view run_id,
                                std::string_view what, const Error& error);

// The columns of a RunRecord in both stores' SQL, in the order `read_run_record` reads them.
// The pending interrupts are counted on the primary key's prefix (run_id), so a listing reads
// only the run's own rows.
#define ACTORFLOW_RUN_COLUMNS                                                                      \
  "runs.id, runs.flow, runs.status, runs.steps, runs.last_node, runs.next_node, "                  \
  "runs.items_done, runs.items_failed, runs.tokens, runs.error, runs.created_ms, "                 \
  "runs.updated_ms, (SELECT count(*) FROM interrupts WHERE interrupts.run_id = runs.id "           \
  "AND interrupts.status = 'pending'), runs.cost_nanos"
inline constexpr int run_column_count = 14;

// Costs are stored as whole nano-dollars: an integer column both stores read alike, exact in
// sums, and fine enough for a one-token call.
[[nodiscard]] std::int64_t to_nanos(double dollars) noexcept;
[[nodiscard]] double from_nanos(std::int64_t nanos) noexcept;

// The RunRecord in a row that selects ACTORFLOW_RUN_COLUMNS first, through a store's row:
// `row.text(i)` (a string_view), `row.count(i)` (never negative), `row.int64(i)`.
template <class Row>
Result<RunRecord> read_run_record(std::string_view store, const Row& row) {
  RunRecord record;
  record.run_id = row.text(0);
  record.flow = row.text(1);
  const Result<RunStatus> status = run_status_named(store, record.run_id, row.text(2));
  if (!status)
    return status.error();
  record.status = *status;
  record.steps = row.count(3);
  record.last_node = row.text(4);
  record.next_node = row.text(5);
  record.items_done = row.count(6);
  record.items_failed = row.count(7);
  record.tokens = row.count(8);
  record.error = row.text(9);
  record.created = from_ms(row.int64(10));
  record.updated = from_ms(row.int64(11));
  record.pending_interrupts = row.count(12);
  record.cost = from_nanos(row.int64(13));
  return record;
}

// Why answer_interrupt changed nothing on a run that exists: no interrupt `id` (`status` is
// none), or it is not pending ("it was already answered").
[[nodiscard]] Error not_answerable(std::string_view run_id, std::string_view id,
                                   std::optional<std::string_view> status);

// A group's outcomes encoded back to back into one buffer: one allocation for the group, not
// one per item (and none under a connection's mutex).
class EncodedOutcomes {
public:
  explicit EncodedOutcomes(const std::vector<ItemCheckpoint>& items);

  // encode_outcome(items[i].outcome)'s bytes.
  [[nodiscard]] std::span<const std::uint8_t> operator[](std::size_t i) const;

private:
  MsgpackWriter writer_;
  std::vector<std::size_t> ends_;
};

} // namespace actorflow::detail
