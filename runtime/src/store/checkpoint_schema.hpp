#pragma once
// The file of a checkpoint store: its tables, the marks that say a file is an actorflow store,
// and the check that tells such a file from any other database.
//
// Tables (schema version 1):
//   actorflow_meta  key/value: 'application' = the marker below, 'schema_version'
//   runs            one small row per run: id, flow, status, times (ms since the epoch), error,
//                   the last step's position and the item counters
//   initial_states  run_id -> the initial State (msgpack)
//   last_states     run_id -> the State after the last committed step (msgpack)
//   items           (run_id, key) -> ok, tokens and the ItemOutcome (msgpack)
// The States live apart from `runs` because `runs` is rewritten by every commit_items (its
// counters): a large State in that row would be copied again with each batch of items.

#include <actorflow/result.hpp>

#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <string>

namespace actorflow::detail {

/// Whether the database `db` (the file at `path`) holds a checkpoint store this build reads:
/// false for a file without tables (a new store), true for one of ours; an error (bad_input)
/// naming the path and the reason for another program's database or another schema version.
/// Reads only.
[[nodiscard]] Result<bool> identify_checkpoint_store(sqlite3* db, const std::string& path);

/// Creates the tables and marks of a new store in `conn`'s file, under the write lock, so that
/// two processes creating one store do not interleave; the file is identified again there:
/// another process may have written it since it was looked at.
[[nodiscard]] Result<void> create_checkpoint_tables(sqlite::Connection& conn,
                                                    const std::string& path);

} // namespace actorflow::detail
