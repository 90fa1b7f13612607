#pragma once
/// `DocStore`: which documents a re-run of a pipeline adds, skips, updates or drops. It
/// keeps the content hash of each document in an SQLite file (or in memory); its concurrency,
/// corruption handling and errors are `IngestCache`'s (actorflow/ingest/cache.hpp).

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// Documents by id with their content hash: tells a re-run which documents are new, which
/// changed and which are gone. Its table may live in the same file as an `IngestCache`.
class DocStore {
public:
  /// What `upsert` did.
  enum class Change { added, unchanged, changed };

  // -- lifecycle ---------------------------------------------------------------------

  /// Opens (or creates) the store in the SQLite file at `path`; ":memory:" as for
  /// `IngestCache::open`, with the same handling of a corrupt file.
  [[nodiscard]] static Result<DocStore> open(const std::string& path);

  DocStore(DocStore&&) noexcept;
  DocStore& operator=(DocStore&&) noexcept;
  ~DocStore();

  // -- access ------------------------------------------------------------------------

  /// Records document `id` with `content_hash` and `metadata`. The hash alone decides the
  /// answer: `added` (a new id), `unchanged` (same hash) or `changed` (another hash). The
  /// metadata is stored as given in every case. Atomic, also against other connections.
  [[nodiscard]] Result<Change> upsert(std::string_view id, std::string_view content_hash,
                                      const Value& metadata);
  /// The content hash recorded for `id`, or nothing (also when the read fails).
  [[nodiscard]] std::optional<std::string> hash_of(std::string_view id);
  /// The metadata recorded for `id`, or nothing (also when the read fails or it does not
  /// decode).
  [[nodiscard]] std::optional<Value> metadata_of(std::string_view id);
  /// Deletes every document whose id is not in `present_ids` and returns their ids, sorted.
  /// One transaction: all are deleted or none.
  [[nodiscard]] Result<std::vector<std::string>>
  remove_missing(const std::vector<std::string>& present_ids);
  /// Documents stored (0 if the count fails).
  [[nodiscard]] std::size_t size();

  // -- what open found ---------------------------------------------------------------

  /// As `IngestCache::rebuilt`.
  [[nodiscard]] bool rebuilt() const noexcept;
  /// As `IngestCache::rebuild_report`.
  [[nodiscard]] const std::string& rebuild_report() const noexcept;
  [[nodiscard]] const std::string& path() const noexcept;

private:
  struct Impl;
  explicit DocStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// "added", "unchanged", "changed".
[[nodiscard]] std::string_view to_string(DocStore::Change change) noexcept;

} // namespace actorflow
