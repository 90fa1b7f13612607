#pragma once
/// Persistent stores for an ingestion pipeline, each in an SQLite file (or in memory):
/// `IngestCache` keeps the results of transformations so that unchanged input is not
/// transformed twice, and `DocStore` keeps each document's content hash so that a re-run adds,
/// skips or updates documents and drops the ones that are gone.
///
/// Concurrency: many actors call a store at once. Each object owns one SQLite connection behind
/// a mutex, so every member function may be called from any thread; calls are serialised and
/// each one is atomic. Several objects (or processes) may open the same file: files use SQLite's
/// WAL journal, where readers never wait and writers wait for each other (up to 5 s, then
/// `Errc::unavailable`). Moving an object is not synchronised.
///
/// Corruption: a file that is not a database, or one that fails SQLite's `quick_check`, is
/// moved aside to `<path>.corrupt` when it is opened, and an empty store takes its place:
/// `rebuilt()` says so and `rebuild_report()` says why, for the caller to log. A cache is only
/// a cache; losing it costs time, never data. The check happens in `open` only.
///
/// Errors name the path, the operation and SQLite's message, e.g.
/// "/data/cache.db: put: database or disk is full".
#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// A key/value cache of transformation results: `Value`s stored as msgpack, by a string key
/// (usually made with `IngestCache::key`).
class IngestCache {
public:
  // -- lifecycle ---------------------------------------------------------------------

  /// Opens (or creates) the cache in the SQLite file at `path`; ":memory:" gives a private
  /// in-memory cache. A corrupt file is set aside and replaced (see `rebuilt`); errors
  /// (unopenable path, locked, unreadable) name the path and SQLite's message.
  [[nodiscard]] static Result<IngestCache> open(const std::string& path);

  IngestCache(IngestCache&&) noexcept;
  IngestCache& operator=(IngestCache&&) noexcept;
  ~IngestCache(); // out of line: Impl is complete only in cache.cpp

  /// The cache key of running `transformation` with `settings` on an input whose content hash
  /// is `input_hash`. The key covers all three exactly (no hashing, no separator that a
  /// value could contain: lengths prefix the parts), so changing the transformation's name,
  /// any of its settings or the input misses the cache. Settings should be rendered
  /// canonically (e.g. `to_json` of a `Value` map, whose keys are sorted).
  [[nodiscard]] static std::string key(std::string_view transformation, std::string_view settings,
                                       std::string_view input_hash);

  // -- access ------------------------------------------------------------------------

  /// The value stored under `key`, or nothing. A stored value that no longer decodes is
  /// removed and counts as a miss, as does a failure to read.
  [[nodiscard]] std::optional<Value> get(std::string_view key);
  /// Stores `value` under `key`, replacing what was there.
  [[nodiscard]] Result<void> put(std::string_view key, const Value& value);
  /// Entries stored (0 if the count fails).
  [[nodiscard]] std::size_t size();
  /// Removes every entry.
  [[nodiscard]] Result<void> clear();

  // -- what open found ---------------------------------------------------------------

  /// Whether `open` found the file corrupt and started an empty cache in its place.
  [[nodiscard]] bool rebuilt() const noexcept;
  /// When `rebuilt()`: what was wrong and where the bad file went, e.g. "/data/cache.db: not a
  /// usable database (file is not a database); moved it to /data/cache.db.corrupt and started
  /// an empty one". Empty otherwise.
  [[nodiscard]] const std::string& rebuild_report() const noexcept;
  [[nodiscard]] const std::string& path() const noexcept;

private:
  struct Impl;
  explicit IngestCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_; // keeps sqlite3.h out of this header
};

} // namespace actorflow
