#pragma once
// The tables of a PostgreSQL checkpoint store, and the check that tells our schema from any
// other. They are checkpoint_schema.hpp's, in PostgreSQL's types (text, bigint, bytea; the
// values are the same msgpack bytes), plus `runs.ord`, the order in which runs were begun
// (SQLite's rowid), and the same marks in actorflow_meta. They live in the connection's
// current schema (the first of its search_path), which must hold nothing else.

#include <actorflow/result.hpp>

#include "store/postgres.hpp"

namespace actorflow::detail::postgres {

/// Creates the tables and marks in a schema that has none, or checks the ones there (and
/// upgrades a store of version 3 in place: ALTER TABLE, with defaults): an error
/// (bad_input) naming the store and the reason for another program's tables or a schema
/// version this build does not read. Under a lock of the schema's, so that two processes
/// opening one new store do not both create it. The mutex held.
[[nodiscard]] Result<void> ensure_checkpoint_tables(Connection& conn);

} // namespace actorflow::detail::postgres
