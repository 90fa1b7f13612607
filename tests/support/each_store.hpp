#pragma once
// Runs a test of the CheckpointStore contract on each store: a TEST_CASE_TEMPLATE over the
// backends (`name<sqlite>`, `name<postgresql>`, each its own CTest entry), whose
// `fresh_store<Backend>()` gives the test a fresh, empty place in it: an SQLite file in a
// directory of its own, or a PostgreSQL schema of its own. Where no PostgreSQL test server runs,
// that one says it is skipped and gives nothing: the test returns. (Not a SUBCASE per backend:
// doctest 2.4.9 loops forever over nested subcases under a subcase opened in a helper.)
//
//   TEST_CASE_TEMPLATE("...", Backend, OnSqlite, OnPostgres) {
//     const auto where = fresh_store<Backend>();
//     if (!where)
//       return;
//     CheckpointStorePtr store = must(open_checkpoint_store(where->location()));

#include "support/postgres_test_schema.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace actorflow::testing_support {

class TestStore {
public:
  // An SQLite file.
  TestStore() : file_(std::make_unique<TempDir>()) {}
  // A PostgreSQL schema.
  explicit TestStore(std::unique_ptr<PostgresTestSchema> schema) : schema_(std::move(schema)) {}

  // What open_checkpoint_store takes.
  [[nodiscard]] std::string location() const {
    return schema_ ? schema_->url() : (file_->path() / "runs.db").string();
  }
  // How the store's errors name it: the path, or the URL (the test server's has no password).
  [[nodiscard]] std::string name() const { return location(); }
  [[nodiscard]] bool is_postgres() const noexcept { return schema_ != nullptr; }

  // The first column of the first row `sql` gives, read behind the store's back; -1: no row.
  [[nodiscard]] std::int64_t query_int(const std::string& sql) const {
    if (schema_)
      return schema_->query_int(sql);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(location().c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    const std::int64_t value =
        sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
  [[nodiscard]] std::int64_t count_rows(const std::string& table) const {
    return query_int("SELECT count(*) FROM " + table);
  }

private:
  std::unique_ptr<TempDir> file_;
  std::unique_ptr<PostgresTestSchema> schema_;
};

struct OnSqlite {};
struct OnPostgres {};

// A fresh SQLite file, or a fresh PostgreSQL schema (none without a test server).
template <class Backend>
std::unique_ptr<TestStore> fresh_store() {
  if constexpr (std::is_same_v<Backend, OnPostgres>) {
    if (!PostgresTestSchema::available())
      return nullptr;
    return std::make_unique<TestStore>(std::make_unique<PostgresTestSchema>());
  } else {
    return std::make_unique<TestStore>();
  }
}

} // namespace actorflow::testing_support

TYPE_TO_STRING_AS("sqlite", actorflow::testing_support::OnSqlite);
TYPE_TO_STRING_AS("postgresql", actorflow::testing_support::OnPostgres);
