#pragma once
// The file of a checkpoint store: its tables, the marks that say a file is an actorflow store,
// and the check that tells such a file from any other database.
//
// Tables (schema version 4):
//   actorflow_meta  key/value: 'application' = the marker below, 'schema_version'
//   runs            one small row per run: id, flow, status, times (ms since the epoch), error,
//                   the last step's position, the item counters and the cost (nano-dollars)
//   initial_states  run_id -> the initial State (msgpack)
//   last_states     run_id -> the State after the last committed step (msgpack)
//   items           (run_id, key) -> ok, tokens, the ItemOutcome (msgpack), its batch node's
//                   path and its index (items_by_node: a viewer pages one node's in order)
//   graphs          run_id -> the flow's graph as JSON (for viewers)
//   interrupts      (run_id, id) -> seq (the order of first save within the run), node, item
//                   (NULL: none), question and answer (msgpack), status, times
//   batch_jobs      (server, input_file_id) -> job_id ('' until created), endpoint, created
//   batch_calls     custom_id -> run_id, (server, input_file_id): the batch provider's journal
// The States live apart from `runs` because `runs` is rewritten by every commit_items (its
// counters): a large State in that row would be copied again with each batch of items.
// Version 1 is version 2 without `interrupts`, version 2 is 3 without the batch tables, 3 is 4
// without `graphs` and the cost, node and index columns: opening one adds the missing tables
// and columns (ALTER TABLE, with defaults) and marks it 4, so an older actorflow refuses the
// file instead of half-reading it.

#include <actorflow/result.hpp>

#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace actorflow::detail {

enum class StoreFile : std::uint8_t {
  empty,   // no tables: a new store
  current, // ours, at checkpoint_schema_version
  older,   // ours, at a version this build upgrades in place
};

/// What the database `db` (the file at `path`) holds; an error (bad_input) naming the path and
/// the reason for another program's database or a schema version this build does not read
/// (one from the future, or one too old to upgrade). Reads only.
[[nodiscard]] Result<StoreFile> identify_checkpoint_store(sqlite3* db, const std::string& path);

/// Creates the tables and marks of a new store in `conn`'s file, or adds what an older version
/// lacks, under the write lock, so that two processes creating one store do not interleave;
/// the file is identified again there: another process may have written it since it was
/// looked at.
[[nodiscard]] Result<void> create_checkpoint_tables(sqlite::Connection& conn,
                                                    const std::string& path);

} // namespace actorflow::detail
