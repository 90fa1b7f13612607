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
