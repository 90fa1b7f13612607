#pragma once
// What the checkpoint store's tests share: outcomes to commit, and ways to read back runs and
// refusals.
#include <actorflow/checkpoint.hpp>

#include "store_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow::testing_support {

inline ItemOutcome succeeded(std::size_t index, Value value, std::int64_t tokens) {
  ItemOutcome outcome;
  outcome.index = index;
  outcome.result.emplace<0>(std::move(value));
  outcome.attempts = 1;
  outcome.latency = std::chrono::microseconds{1250};
  outcome.tokens = tokens;
  return outcome;
}

inline RunRecord record_of(CheckpointStore& store, const std::string& run_id) {
  return must(store.load_run(run_id)).record;
}

inline std::vector<std::string> ids_of(const std::vector<RunRecord>& runs) {
  std::vector<std::string> ids;
  for (const RunRecord& run : runs)
    ids.push_back(run.run_id);
  return ids;
}

inline void check_refused(const std::string& path, std::string_view says) {
  Result<CheckpointStorePtr> store = open_checkpoint_store(path);
  REQUIRE_FALSE(store.ok());
  INFO(store.error().message);
  CHECK(store.error().code == Errc::bad_input);
  CHECK(contains(store.error().message, path + ": "));
  CHECK(contains(store.error().message, says));
}

// The first column of the first row `sql` gives, read behind the store's back; -1: no row.
inline std::int64_t query_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  const std::int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// The schema_version mark of the file.
inline std::int64_t schema_version_of(const std::string& path) {
  return query_int(path, "SELECT value FROM actorflow_meta WHERE key = 'schema_version'");
}

inline std::int64_t count_rows(const std::string& path, const std::string& table) {
  return query_int(path, "SELECT count(*) FROM " + table);
}

} // namespace actorflow::testing_support
