// IngestCache on SQLite: a set of statements on `SqliteFile`
// (store/sqlite.hpp), which owns a `Connection`: it opens the file (setting aside a corrupt
// one), owns the prepared statements and serialises their use.

#include <actorflow/ingest/cache.hpp>

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

struct IngestCache::Impl : SqliteFile {
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* erase = nullptr;
  sqlite3_stmt* count_all = nullptr;
  sqlite3_stmt* erase_all = nullptr;
};

Result<IngestCache> IngestCache::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  Result<void> opened = impl->open(
      path,
      "CREATE TABLE IF NOT EXISTS ingest_cache ("
      "key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID",
      {{&impl->select, "SELECT value FROM ingest_cache WHERE key = ?1"},
       {&impl->insert, "INSERT OR REPLACE INTO ingest_cache (key, value) VALUES (?1, ?2)"},
       {&impl->erase, "DELETE FROM ingest_cache WHERE key = ?1"},
       {&impl->count_all, "SELECT count(*) FROM ingest_cache"},
       {&impl->erase_all, "DELETE FROM ingest_cache"}});
  if (!opened)
    return opened.error();
  return IngestCache(std::move(impl));
}

IngestCache::IngestCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IngestCache::IngestCache(IngestCache&&) noexcept = default;
IngestCache& IngestCache::operator=(IngestCache&&) noexcept = default;
IngestCache::~IngestCache() = default;

std::string IngestCache::key(std::string_view transformation, std::string_view settings,
                             std::string_view input_hash) {
  // "<n>:<transformation> <m>:<settings> <input_hash>": the lengths make it unambiguous.
  std::string key;
  key.reserve(transformation.size() + settings.size() + input_hash.size() + 24);
  key += std::to_string(transformation.size());
  key += ':';
  key += transformation;
  key += ' ';
  key += std::to_string(settings.size());
  key += ':';
  key += settings;
  key += ' ';
  key += input_hash;
  return key;
}

std::optional<Value> IngestCache::get(std::string_view key) {
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  std::optional<Result<Value>> stored =
      read_row(impl_->select, key, [](sqlite3_stmt* stmt) -> std::optional<Result<Value>> {
        return from_msgpack(column_blob(stmt, 0));
      });
  if (!stored)
    return std::nullopt;
  if (*stored)
    return std::move(*stored).value();
  // Written by another version, or damaged: useless, and a miss either way. Dropping it keeps
  // size() honest; the caller's put will store a good one.
  Reset reset(impl_->erase);
  if (bind_text(impl_->erase, 1, key) == SQLITE_OK)
    (void)conn.run(impl_->erase, "get: remove undecodable value");
  return std::nullopt;
}

Result<void> IngestCache::put(std::string_view key, const Value& value) {
  const std::vector<std::uint8_t> bytes = to_msgpack(value); // outside the lock
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  Reset reset(impl_->insert);
  if (int rc = bind_text(impl_->insert, 1, key); rc != SQLITE_OK)
    return conn.error("put", rc);
  if (int rc = bind_blob(impl_->insert, 2, bytes); rc != SQLITE_OK)
    return conn.error("put", rc);
  return conn.run(impl_->insert, "put");
}

std::size_t IngestCache::size() { return impl_->count(impl_->count_all); }

Result<void> IngestCache::clear() {
  std::lock_guard lock(impl_->conn->mutex());
  return impl_->conn->run(impl_->erase_all, "clear");
}

bool IngestCache::rebuilt() const noexcept { return impl_->rebuilt(); }
const std::string& IngestCache::rebuild_report() const noexcept { return impl_->rebuild_report(); }
const std::string& IngestCache::path() const noexcept { return impl_->path(); }

} // namespace actorflow
