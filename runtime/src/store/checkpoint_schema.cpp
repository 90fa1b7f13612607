#include "store/checkpoint_schema.hpp"

#include <actorflow/checkpoint.hpp>

#include "store/checkpoint_rows.hpp"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace actorflow::detail {

using namespace sqlite;

namespace {

constexpr const char* schema =
    "CREATE TABLE IF NOT EXISTS actorflow_meta ("
    "  key TEXT PRIMARY KEY NOT NULL, value NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS runs ("
    "  id TEXT PRIMARY KEY NOT NULL, flow TEXT NOT NULL, status TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, ended_ms INTEGER,"
    "  error TEXT NOT NULL DEFAULT '',"
    "  steps INTEGER NOT NULL DEFAULT 0, last_node TEXT NOT NULL DEFAULT '',"
    "  next_node TEXT NOT NULL DEFAULT '',"
    "  items_done INTEGER NOT NULL DEFAULT 0, items_failed INTEGER NOT NULL DEFAULT 0,"
    "  tokens INTEGER NOT NULL DEFAULT 0, cost_nanos INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_ms);"
    "CREATE TABLE IF NOT EXISTS initial_states ("
    "  run_id TEXT PRIMARY KEY NOT NULL, state BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS last_states ("
    "  run_id TEXT PRIMARY KEY NOT NULL, state BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS items ("
    "  run_id TEXT NOT NULL, key TEXT NOT NULL, ok INTEGER NOT NULL, tokens INTEGER NOT NULL,"
    "  outcome BLOB NOT NULL, node TEXT NOT NULL DEFAULT '',"
    "  item_index INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
    // Added in version 2; the rest is version 1's.
    "CREATE TABLE IF NOT EXISTS interrupts ("
    "  run_id TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, node TEXT NOT NULL,"
    "  item INTEGER, question BLOB NOT NULL, status TEXT NOT NULL, answer BLOB NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (run_id, id)) WITHOUT ROWID;"
    // Added in version 3.
    "CREATE TABLE IF NOT EXISTS batch_jobs ("
    "  server TEXT NOT NULL, input_file_id TEXT NOT NULL, job_id TEXT NOT NULL DEFAULT '',"
    "  endpoint TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (server, input_file_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS batch_calls ("
    "  custom_id TEXT PRIMARY KEY NOT NULL, run_id TEXT NOT NULL, server TEXT NOT NULL,"
    "  input_file_id TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS batch_calls_by_run ON batch_calls (run_id);"
    "CREATE INDEX IF NOT EXISTS batch_calls_by_job ON batch_calls (server, input_file_id);"
    // Added in version 4 (with the columns of version4_columns).
    "CREATE TABLE IF NOT EXISTS graphs ("
    "  run_id TEXT PRIMARY KEY NOT NULL, graph TEXT NOT NULL);";

// The columns version 4 added to tables an older store has; each has a default, so that the
// rows already there read as "unknown" (no node, index 0, no cost).
struct AddedColumn {
  const char* table;
  const char* column;
  const char* declaration;
};
constexpr AddedColumn version4_columns[] = {
    {"runs", "cost_nanos", "INTEGER NOT NULL DEFAULT 0"},
    {"items", "node", "TEXT NOT NULL DEFAULT ''"},
    {"items", "item_index", "INTEGER NOT NULL DEFAULT 0"},
};

// Made after the columns it reads exist (an upgraded store gets them by ALTER TABLE).
constexpr const char* version4_indexes =
    "CREATE INDEX IF NOT EXISTS items_by_node ON items (run_id, node, item_index)";

// The oldest schema version this build upgrades in place (its tables are a subset of ours).
constexpr std::int64_t oldest_upgradable_version = 1;

// A statement run once while opening, before the Connection (and its statement list) exists.
class OneOff {
public:
  OneOff(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~OneOff() { sqlite3_finalize(stmt_); }
  OneOff(const OneOff&) = delete;
  OneOff& operator=(const OneOff&) = delete;

  // SQLITE_ROW, SQLITE_DONE or an error code (also the prepare's).
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(stmt_); }
  [[nodiscard]] sqlite3_stmt* get() const noexcept { return stmt_; }

private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Adds the columns of version 4 that the tables lack (an older store's); the write lock held.
Result<void> add_missing_columns(Connection& conn) {
  for (const AddedColumn& added : version4_columns) {
    std::string probe = "SELECT 1 FROM pragma_table_info('";
    probe += added.table;
    probe += "') WHERE name = '";
    probe += added.column;
    probe += '\'';
    OneOff exists(conn.handle(), probe.c_str());
    const int rc = exists.step();
    if (rc == SQLITE_ROW)
      continue;
    if (rc != SQLITE_DONE)
      return conn.error("upgrade to schema version 4", rc);
    std::string alter = "ALTER TABLE ";
    alter += added.table;
    alter += " ADD COLUMN ";
    alter += added.column;
    alter += ' ';
    alter += added.declaration;
    if (Result<void> altered = conn.exec(alter.c_str(), "upgrade to schema version 4"); !altered)
      return altered;
  }
  return conn.exec(version4_indexes, "upgrade to schema version 4");
}

} // namespace

Result<StoreFile> identify_checkpoint_store(sqlite3* db, const std::string& path) {
  auto failed = [&](int rc) {
    std::string message = path;
    message += ": reading its tables: ";
    message += sqlite3_errmsg(db);
    return Error{errc_of(rc), std::move(message)};
  };

  std::vector<std::string> tables;
  OneOff list(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
                  "AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name");
  int rc = list.step();
  for (; rc == SQLITE_ROW; rc = list.step())
    tables.emplace_back(column_text(list.get(), 0));
  if (rc != SQLITE_DONE)
    return failed(rc);
  if (tables.empty())
    return StoreFile::empty;
  if (std::find(tables.begin(), tables.end(), "actorflow_meta") == tables.end()) {
    std::string why = "it holds another program's tables (";
    for (std::size_t i = 0; i < tables.size() && i < 5; ++i) {
      why += i == 0 ? "" : ", ";
      why += tables[i];
    }
    why += tables.size() > 5 ? ", ...)" : ")";
    return not_a_checkpoint_store(path, why);
  }

  OneOff application(db, "SELECT value FROM actorflow_meta WHERE key = 'application'");
  rc = application.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return failed(rc);
  if (rc == SQLITE_DONE || column_text(application.get(), 0) != checkpoint_store_marker) {
    std::string why = "its actorflow_meta table ";
    if (rc == SQLITE_DONE) {
      why += "has no application marker";
    } else {
      why += "names the application '";
      why += column_text(application.get(), 0);
      why += '\'';
    }
    return not_a_checkpoint_store(path, why);
  }

  OneOff version(db, "SELECT value FROM actorflow_meta WHERE key = 'schema_version'");
  rc = version.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return failed(rc);
  if (rc == SQLITE_DONE || sqlite3_column_type(version.get(), 0) != SQLITE_INTEGER)
    return not_a_checkpoint_store(path, "its actorflow_meta table has no integer schema_version");
  const std::int64_t found = sqlite3_column_int64(version.get(), 0);
  if (found == checkpoint_schema_version)
    return StoreFile::current;
  if (found >= oldest_upgradable_version && found < checkpoint_schema_version)
    return StoreFile::older;
  return unreadable_schema_version(path, found, oldest_upgradable_version);
}

Result<void> create_checkpoint_tables(Connection& conn, const std::string& path) {
  std::lock_guard lock(conn.mutex());
  Transaction tx(conn);
  if (Result<void> begun = tx.begin("create tables"); !begun)
    return begun.error();
  // Identified again under the write lock: another process may have created or upgraded the
  // file since it was looked at, or written something that is not ours.
  Result<StoreFile> found = identify_checkpoint_store(conn.handle(), path);
  if (!found)
    return found.error();
  if (*found == StoreFile::current)
    return {};
  // Every table is CREATE ... IF NOT EXISTS: on an older store this adds the missing ones.
  if (Result<void> created = conn.exec(schema, "create tables"); !created)
    return created.error();
  if (Result<void> upgraded = add_missing_columns(conn); !upgraded)
    return upgraded.error();
  std::string marks = "INSERT OR IGNORE INTO actorflow_meta (key, value) VALUES "
                      "('application', '";
  marks += checkpoint_store_marker;
  marks += "'); INSERT OR REPLACE INTO actorflow_meta (key, value) VALUES ('schema_version', ";
  marks += std::to_string(checkpoint_schema_version);
  marks += ')';
  if (Result<void> marked = conn.exec(marks.c_str(), "create tables"); !marked)
    return marked.error();
  return tx.commit("create tables");
}

} // namespace actorflow::detail
