#include "store/postgres_schema.hpp"

#include <actorflow/checkpoint.hpp>

#include "store/checkpoint_rows.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::detail::postgres {

namespace {

// PostgreSQL's first schema version: no store of an earlier version exists in PostgreSQL.
constexpr std::int64_t oldest_readable_version = 3;

constexpr const char* schema =
    "CREATE TABLE actorflow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE runs ("
    "  id TEXT PRIMARY KEY, ord BIGINT GENERATED ALWAYS AS IDENTITY, flow TEXT NOT NULL,"
    "  status TEXT NOT NULL, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,"
    "  ended_ms BIGINT, error TEXT NOT NULL DEFAULT '',"
    "  steps BIGINT NOT NULL DEFAULT 0, last_node TEXT NOT NULL DEFAULT '',"
    "  next_node TEXT NOT NULL DEFAULT '',"
    "  items_done BIGINT NOT NULL DEFAULT 0, items_failed BIGINT NOT NULL DEFAULT 0,"
    "  tokens BIGINT NOT NULL DEFAULT 0, cost_nanos BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX runs_by_created ON runs (created_ms, ord);"
    "CREATE TABLE initial_states (run_id TEXT PRIMARY KEY, state BYTEA NOT NULL);"
    "CREATE TABLE last_states (run_id TEXT PRIMARY KEY, state BYTEA NOT NULL);"
    "CREATE TABLE items ("
    "  run_id TEXT NOT NULL, key TEXT NOT NULL, ok BIGINT NOT NULL, tokens BIGINT NOT NULL,"
    "  outcome BYTEA NOT NULL, node TEXT NOT NULL DEFAULT '',"
    "  item_index BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, key));"
    "CREATE INDEX items_by_node ON items (run_id, node, item_index);"
    "CREATE TABLE graphs (run_id TEXT PRIMARY KEY, graph TEXT NOT NULL);"
    "CREATE TABLE interrupts ("
    "  run_id TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT NOT NULL, node TEXT NOT NULL,"
    "  item BIGINT, question BYTEA NOT NULL, status TEXT NOT NULL, answer BYTEA NOT NULL,"
    "  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, PRIMARY KEY (run_id, id));"
    "CREATE TABLE batch_jobs ("
    "  server TEXT NOT NULL, input_file_id TEXT NOT NULL, job_id TEXT NOT NULL DEFAULT '',"
    "  endpoint TEXT NOT NULL, created_ms BIGINT NOT NULL,"
    "  PRIMARY KEY (server, input_file_id));"
    "CREATE TABLE batch_calls ("
    "  custom_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, server TEXT NOT NULL,"
    "  input_file_id TEXT NOT NULL);"
    "CREATE INDEX batch_calls_by_run ON batch_calls (run_id);"
    "CREATE INDEX batch_calls_by_job ON batch_calls (server, input_file_id);";

// The tables of the current schema, by name; the first row says which schema that is (no row:
// the search_path names no schema that exists).
constexpr const char* list_tables =
    "SELECT current_schema(), c.relname FROM pg_catalog.pg_namespace n "
    "LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', "
    "'m', 'f') WHERE n.nspname = current_schema() ORDER BY c.relname";

// What version 4 adds to a store of version 3: each column with a default, so that the rows
// already there read as "unknown" (no node, index 0, no cost).
constexpr const char* upgrade_to_4 =
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS cost_nanos BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS node TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS item_index BIGINT NOT NULL DEFAULT 0;"
    "CREATE INDEX IF NOT EXISTS items_by_node ON items (run_id, node, item_index);"
    "CREATE TABLE IF NOT EXISTS graphs (run_id TEXT PRIMARY KEY, graph TEXT NOT NULL);"
    "UPDATE actorflow_meta SET value = '4' WHERE key = 'schema_version'";

// Checks the marks of a schema that has an actorflow_meta table; its schema version.
Result<std::int64_t> check_marks(Connection& conn) {
  Result<Rows> marks = conn.exec("SELECT key, value FROM actorflow_meta "
                                 "WHERE key IN ('application', 'schema_version')",
                                 "reading its tables");
  if (!marks)
    return marks.error();
  std::string_view application, version;
  bool has_application = false, has_version = false;
  for (int row = 0; row < marks->size(); ++row) {
    if (marks->text(row, 0) == "application") {
      application = marks->text(row, 1);
      has_application = true;
    } else {
      version = marks->text(row, 1);
      has_version = true;
    }
  }
  if (!has_application || application != checkpoint_store_marker) {
    std::string why = "its actorflow_meta table ";
    if (!has_application) {
      why += "has no application marker";
    } else {
      why += "names the application '";
      why += application;
      why += '\'';
    }
    return not_a_checkpoint_store(conn.name(), why);
  }
  std::int64_t found = 0;
  const auto [end, parsed] =
      std::from_chars(version.data(), version.data() + version.size(), found);
  if (!has_version || parsed != std::errc{} || end != version.data() + version.size())
    return not_a_checkpoint_store(conn.name(),
                                  "its actorflow_meta table has no integer schema_version");
  if (found < oldest_readable_version || found > checkpoint_schema_version)
    return unreadable_schema_version(conn.name(), found, oldest_readable_version);
  return found;
}

} // namespace

Result<void> ensure_checkpoint_tables(Connection& conn) {
  Transaction tx(conn);
  if (Result<void> begun = tx.begin("creating its tables"); !begun)
    return begun;
  // Held until the transaction ends: a second process opening the same new store waits here,
  // then finds the tables the first one made.
  if (Result<Rows> locked =
          conn.exec("SELECT pg_advisory_xact_lock(hashtext('actorflow.checkpoints ' || "
                    "coalesce(current_schema(), '')))",
                    "creating its tables");
      !locked)
    return locked.error();
  Result<Rows> tables = conn.exec(list_tables, "reading its tables");
  if (!tables)
    return tables.error();
  if (tables->empty())
    return Error{Errc::bad_input, conn.name() +
                                      ": no schema to create the tables in: its search_path names "
                                      "none that exists"};
  std::vector<std::string_view> names;
  for (int row = 0; row < tables->size(); ++row)
    if (!tables->is_null(row, 1))
      names.push_back(tables->text(row, 1));

  if (names.empty()) {
    if (Result<Rows> created = conn.exec(schema, "creating its tables"); !created)
      return created.error();
    std::string marks = "INSERT INTO actorflow_meta (key, value) VALUES ('application', '";
    marks += checkpoint_store_marker;
    marks += "'), ('schema_version', '";
    marks += std::to_string(checkpoint_schema_version);
    marks += "')";
    if (Result<Rows> marked = conn.exec(marks.c_str(), "creating its tables"); !marked)
      return marked.error();
    return tx.commit("creating its tables");
  }
  if (std::find(names.begin(), names.end(), "actorflow_meta") == names.end()) {
    std::string why = "schema '";
    why += tables->text(0, 0);
    why += "' holds another program's tables (";
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) {
      why += i == 0 ? "" : ", ";
      why += names[i];
    }
    why += names.size() > 5 ? ", ...)" : ")";
    why += "; give actorflow a database or a schema of its own";
    return not_a_checkpoint_store(conn.name(), why);
  }
  Result<std::int64_t> version = check_marks(conn);
  if (!version)
    return version.error();
  if (*version < 4)
    if (Result<Rows> upgraded = conn.exec(upgrade_to_4, "upgrading it to schema version 4");
        !upgraded)
      return upgraded.error();
  return tx.commit("creating its tables");
}

} // namespace actorflow::detail::postgres
