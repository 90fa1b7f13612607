#pragma once
/// `IngestItem`: a document or a chunk as it flows through an ingestion pipeline, and item
/// files (JSON Lines or msgpack) to save and load them.

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// A document or a chunk as it flows through a pipeline. Plain value; not synchronised.
struct IngestItem {
  /// Documents: the path relative to the reader's root, '/'-separated ("notes/a.md").
  /// Chunks: "<document id>#<chunk index>" ("notes/a.md#3").
  std::string id{};
  /// A chunk's document id; empty for a document.
  std::string ref_doc_id{};
  std::string text{};
  Map metadata{};
  /// Empty until an embedding model has seen the text.
  std::vector<float> embedding{};

  /// A map with the keys "id", "ref_doc_id", "text", "metadata" (a map) and "embedding" (an
  /// array of doubles, each exactly the float).
  [[nodiscard]] Value to_value() const;
  /// The inverse of `to_value`. "id" and "text" are required strings; "ref_doc_id" (string),
  /// "metadata" (map) and "embedding" (array of numbers) may be missing and are then empty;
  /// other keys are ignored. Errors (bad_input) name the field and what it holds, e.g.
  /// "IngestItem: field 'text' holds int64 (3), not string".
  [[nodiscard]] static Result<IngestItem> from_value(const Value& value);

  /// 32 lowercase hex digits: the 128-bit FNV-1a hash of `text` (only the text: not the id,
  /// metadata or embedding). Stable across platforms, builds and runs, so it can key a cache of
  /// embeddings on disk; it is not a cryptographic hash, so do not trust it against an
  /// adversary who picks texts.
  [[nodiscard]] std::string content_hash() const;

  friend bool operator==(const IngestItem&, const IngestItem&) = default;
};

// -- saving -------------------------------------------------------------------------------

enum class ItemFormat : std::uint8_t {
  jsonl,   ///< one JSON object (`IngestItem::to_value`) per line, each line ending in '\n'
  msgpack, ///< msgpack maps (`IngestItem::to_value`) one after another, nothing between
};

/// Writes `items` to `path` (replacing the file) in `format`. JSON has no NaN or infinity, so
/// jsonl refuses an embedding holding one, and binary metadata becomes a base64 string there
/// (use msgpack to keep it). Errors: bad_input if the file cannot be opened or an item cannot
/// be encoded, unavailable if writing fails (a full disk); a failed write may leave a partial
/// file.
[[nodiscard]] Result<void> save_items(const std::string& path, const std::vector<IngestItem>& items,
                                      ItemFormat format);

/// Reads items written by `save_items`, telling the format from the first byte (a msgpack
/// map header, or else JSON lines; blank lines are skipped). An empty file holds no items.
/// Errors (bad_input) name the file and the place: "line 7: ..." for jsonl, "item 3 at byte
/// 1024: ..." for msgpack, as for a truncated or corrupt file. A file cut exactly between two
/// items cannot be told from a shorter one.
[[nodiscard]] Result<std::vector<IngestItem>> load_items(const std::string& path);

} // namespace actorflow
