// DocStore on SQLite: a set of statements on `SqliteFile`
// (store/sqlite.hpp), which owns a `Connection`: it opens the file (setting aside a corrupt
// one), owns the prepared statements and serialises their use.

#include <actorflow/ingest/docstore.hpp>

#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace actorflow {

using namespace detail::sqlite;

struct DocStore::Impl : SqliteFile {
  sqlite3_stmt* select = nullptr; // content_hash, metadata
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* ids = nullptr;
  sqlite3_stmt* erase = nullptr;
  sqlite3_stmt* count_all = nullptr;
};

Result<DocStore> DocStore::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  Result<void> opened = impl->open(
      path,
      "CREATE TABLE IF NOT EXISTS documents ("
      "id TEXT PRIMARY KEY NOT NULL, content_hash TEXT NOT NULL, "
      "metadata BLOB NOT NULL) WITHOUT ROWID",
      {{&impl->select, "SELECT content_hash, metadata FROM documents WHERE id = ?1"},
       {&impl->insert,
        "INSERT OR REPLACE INTO documents (id, content_hash, metadata) VALUES (?1, ?2, ?3)"},
       {&impl->ids, "SELECT id FROM documents ORDER BY id"},
       {&impl->erase, "DELETE FROM documents WHERE id = ?1"},
       {&impl->count_all, "SELECT count(*) FROM documents"}});
  if (!opened)
    return opened.error();
  return DocStore(std::move(impl));
}

DocStore::DocStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DocStore::DocStore(DocStore&&) noexcept = default;
DocStore& DocStore::operator=(DocStore&&) noexcept = default;
DocStore::~DocStore() = default;

Result<DocStore::Change> DocStore::upsert(std::string_view id, std::string_view content_hash,
                                          const Value& metadata) {
  const std::vector<std::uint8_t> bytes = to_msgpack(metadata); // outside the lock
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  // Read and write in one write transaction: another connection's upsert of the same id
  // cannot slip in between.
  Transaction tx(conn);
  if (Result<void> begun = tx.begin("upsert"); !begun)
    return begun.error();

  Change change = Change::added;
  bool same_metadata = false;
  {
    Reset reset(impl_->select);
    if (int rc = bind_text(impl_->select, 1, id); rc != SQLITE_OK)
      return conn.error("upsert", rc);
    const int rc = sqlite3_step(impl_->select);
    if (rc == SQLITE_ROW) {
      change = column_text(impl_->select, 0) == content_hash ? Change::unchanged : Change::changed;
      const std::span<const std::uint8_t> stored = column_blob(impl_->select, 1);
      same_metadata = std::equal(stored.begin(), stored.end(), bytes.begin(), bytes.end());
    } else if (rc != SQLITE_DONE) {
      return conn.error("upsert", rc);
    }
  }
  // A re-run over an unchanged corpus writes nothing.
  if (change != Change::unchanged || !same_metadata) {
    Reset reset(impl_->insert);
    int rc = bind_text(impl_->insert, 1, id);
    if (rc == SQLITE_OK)
      rc = bind_text(impl_->insert, 2, content_hash);
    if (rc == SQLITE_OK)
      rc = bind_blob(impl_->insert, 3, bytes);
    if (rc != SQLITE_OK)
      return conn.error("upsert", rc);
    if (Result<void> written = conn.run(impl_->insert, "upsert"); !written)
      return written.error();
  }
  if (Result<void> done = tx.commit("upsert"); !done)
    return done.error();
  return change;
}

std::optional<std::string> DocStore::hash_of(std::string_view id) {
  std::lock_guard lock(impl_->conn->mutex());
  return read_row(impl_->select, id, [](sqlite3_stmt* stmt) -> std::optional<std::string> {
    return std::string(column_text(stmt, 0));
  });
}

std::optional<Value> DocStore::metadata_of(std::string_view id) {
  std::lock_guard lock(impl_->conn->mutex());
  return read_row(impl_->select, id, [](sqlite3_stmt* stmt) -> std::optional<Value> {
    Result<Value> value = from_msgpack(column_blob(stmt, 1));
    if (!value)
      return std::nullopt;
    return std::move(value).value();
  });
}

Result<std::vector<std::string>>
DocStore::remove_missing(const std::vector<std::string>& present_ids) {
  const std::unordered_set<std::string_view> present(present_ids.begin(), present_ids.end());
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  Transaction tx(conn);
  if (Result<void> begun = tx.begin("remove_missing"); !begun)
    return begun.error();

  std::vector<std::string> gone;
  {
    Reset reset(impl_->ids);
    int rc = sqlite3_step(impl_->ids);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(impl_->ids)) {
      const std::string_view id = column_text(impl_->ids, 0);
      if (!present.contains(id))
        gone.emplace_back(id);
    }
    if (rc != SQLITE_DONE)
      return conn.error("remove_missing", rc);
  }
  for (const std::string& id : gone) {
    Reset reset(impl_->erase);
    if (int rc = bind_text(impl_->erase, 1, id); rc != SQLITE_OK)
      return conn.error("remove_missing", rc);
    if (Result<void> erased = conn.run(impl_->erase, "remove_missing '" + id + "'"); !erased)
      return erased.error();
  }
  if (Result<void> done = tx.commit("remove_missing"); !done)
    return done.error();
  return gone;
}

std::size_t DocStore::size() { return impl_->count(impl_->count_all); }

bool DocStore::rebuilt() const noexcept { return impl_->rebuilt(); }
const std::string& DocStore::rebuild_report() const noexcept { return impl_->rebuild_report(); }
const std::string& DocStore::path() const noexcept { return impl_->path(); }

std::string_view to_string(DocStore::Change change) noexcept {
  switch (change) {
    case DocStore::Change::added:
      return "added";
    case DocStore::Change::unchanged:
      return "unchanged";
    case DocStore::Change::changed:
      return "changed";
  }
  return "unknown";
}

} // namespace actorflow
