#pragma once
/// The pure pieces of an ingestion pipeline: read documents from a directory, split them into
/// chunks of whole sentences, keep embedded chunks in a small vector index, save and load them.
///
/// Nothing here calls a model or spawns an actor; a pipeline (embedding calls in parallel,
/// caching by `content_hash`) is built on top. Every function is deterministic: the same input
/// gives the same output on every platform, run and locale.

#include <actorflow/result.hpp>
#include <actorflow/tokens.hpp>
#include <actorflow/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

// -- items --------------------------------------------------------------------------------

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

// -- directory reader ---------------------------------------------------------------------

/// The extension of a file name by the reader's rule: from the last '.' on, when that dot is
/// not the name's first byte and is followed by an ASCII letter; otherwise "" (no extension).
/// So "notes.md" has ".md" and "UPPER.TXT" ".TXT" (as written), while license names with a
/// version, "Apache-2.0", "LGPL-2.1", "CC0-1.0", have none, like "LICENSE" and ".bashrc".
[[nodiscard]] std::string file_extension(std::string_view file_name);

struct DirectoryReaderOptions {
  /// Descend into subdirectories.
  bool recursive = true;
  /// File extensions to read, with the dot, compared ignoring ASCII case with each file's
  /// `file_extension`; "" selects files without one (LICENSE, GPL-3, Apache-2.0). An empty
  /// list selects every file.
  std::vector<std::string> extensions = {".txt", ".md", ""};
  /// Larger files are skipped (and reported).
  std::uint64_t max_file_bytes = 8U * 1024U * 1024U;
  /// Leave out files and directories whose name starts with '.' (not reported as skipped).
  bool exclude_hidden = true;
  /// Descend into symlinks to directories. Each real directory is still read at most once, so
  /// a symlink loop ends: the walk is depth-first with each directory's entries sorted by name,
  /// the first path to reach a directory wins, later ones are reported as skipped. Off: such
  /// symlinks are reported as skipped. Symlinks to files are always read.
  bool follow_directory_symlinks = false;
};

/// A file (or symlinked directory) that was selected but not read.
struct SkippedFile {
  std::string path{};   ///< relative to the root, '/'-separated, like a document id
  std::string reason{}; ///< e.g. "not UTF-8 text: invalid byte 0xff at offset 12"
};

struct DirectoryReadResult {
  std::vector<IngestItem> documents{}; ///< sorted by id (byte order)
  std::vector<SkippedFile> skipped{};  ///< sorted by path
};

/// Reads the text files under `root` as documents.
///
/// A file is selected by `options` (extension, hidden, recursion) and then read only if it is
/// a regular file (after following a symlink) no larger than `max_file_bytes` and holds valid
/// UTF-8 without NUL bytes; anything else that was selected lands in `skipped` with the
/// reason: binary or non-UTF-8 content, too large, unreadable, a broken symlink, a special file,
/// a directory symlink not followed or already read. A leading UTF-8 byte order mark is dropped
/// from the text; line endings are kept as they are.
///
/// Each document has `id` = the path relative to `root`, empty `ref_doc_id` and `embedding`,
/// and metadata: "file_path" (absolute, lexically normalised, not resolving symlinks),
/// "file_name", "extension" (`file_extension` of the name), "size_bytes" (int64) and "modified"
/// (last write time, ISO-8601 UTC to the second: "2024-05-01T12:34:56Z").
///
/// Errors (bad_input): `root` does not exist, is not a directory, or cannot be listed. Safe to
/// call from any thread; reads the file system and nothing else.
[[nodiscard]] Result<DirectoryReadResult>
read_directory(const std::string& root, const DirectoryReaderOptions& options = {});

/// One text file as a document, by the same rules and with the same metadata as
/// `read_directory`; its id is the file's name. `options.max_file_bytes` applies (the other
/// options select files in a folder and do not). Errors (bad_input) name the path and the
/// reason `read_directory` would have skipped it: not a regular file, too large, unreadable,
/// binary or not UTF-8.
[[nodiscard]] Result<IngestItem> read_text_file(const std::string& path,
                                                const DirectoryReaderOptions& options = {});

// -- splitter -----------------------------------------------------------------------------

/// A chunk as the byte range `[start, end)` of the text it was cut from.
struct TextSpan {
  std::size_t start = 0;
  std::size_t end = 0;
  friend bool operator==(const TextSpan&, const TextSpan&) = default;
};

struct SplitterOptions {
  /// The most tokens a chunk may hold, as the estimator counts the chunk's exact text.
  std::size_t chunk_size = 256;
  /// The most tokens two consecutive chunks may share; must be below `chunk_size`.
  std::size_t chunk_overlap = 32;
};

/// Cuts text into chunks of whole sentences, for embedding (LlamaIndex's SentenceSplitter).
///
/// Sentences are found by the rules of `split_sentences` (local_model.hpp). Chunks are packed
/// greedily: each takes as many whole sentences as fit in `chunk_size` tokens. A sentence that
/// alone does not fit is cut between words (a word keeps the whitespace after it), and a word
/// that alone does not fit is cut between UTF-8 characters, never inside one.
///
/// What `split` guarantees, for a text holding any non-whitespace byte (a blank text gives no
/// chunks):
/// - Coverage: the first chunk starts at 0, the last ends at `text.size()`, and each chunk
///   starts after the previous one starts, ends after it ends, and starts no later than it
///   ends. So concatenating, for each chunk, its bytes from where the previous chunk ended
///   (`text.substr(max(start, previous end), end - ...)`) rebuilds `text` exactly.
///   Whitespace between two sentences belongs to the chunk of the sentence before it, and
///   leading whitespace of the text to the first chunk: every chunk but the first starts with a
///   non-whitespace byte.
/// - Size: `estimator.count(chunk text) <= chunk_size`, where the chunk text includes its
///   trailing whitespace. The one exception is a piece the splitter never cuts, one UTF-8
///   character with the whitespace next to it (after it, and for the first one, before it),
///   that alone costs more than `chunk_size`: with the default estimator (at most 1 token per
///   character or whitespace run) only for a `chunk_size` below 3.
/// - Sentences: a chunk ends where a sentence ends (after its trailing whitespace), unless
///   that sentence alone is larger than `chunk_size` and had to be cut; it starts where a
///   sentence starts, unless the overlap (below) had to take words.
/// - Overlap: the shared bytes `[next.start, previous.end)` cost at most `chunk_overlap` tokens,
///   and the next chunk always starts after the previous one's start. They are the longest run
///   of whole trailing sentences (or, of a cut sentence, pieces) of the previous chunk that
///   fits both `chunk_overlap` and, together with the next new sentence, `chunk_size`; if not
///   even the last sentence fits, the longest run of its trailing words that does (the next
///   chunk then starts inside that sentence); possibly nothing, and then the chunks touch.
///
/// Counting: the estimator sees exact substrings of the text, and the splitter never adds up
/// counts, so the guarantees hold for any estimator (a non-monotone one may only give shorter
/// chunks). Cost: per chunk, O(log sentences-in-chunk + sentences-in-overlap) estimator calls
/// on chunk-sized text; linear in the text for fixed options.
///
/// Immutable after `make`; `split` and `split_document` are safe to call from several threads
/// when the estimator is (the default one is). The estimator must outlive the splitter.
class SentenceSplitter {
public:
  /// A splitter, or bad_input when `chunk_size` is 0 or `chunk_overlap >= chunk_size`.
  [[nodiscard]] static Result<SentenceSplitter>
  make(SplitterOptions options, const TokenEstimator& estimator = default_token_estimator());

  /// The chunks of `text` as byte ranges, in order (see the class comment for the guarantees).
  [[nodiscard]] std::vector<TextSpan> split(std::string_view text) const;

  /// The chunks of `doc` as items: id "<doc.id>#<i>", ref_doc_id `doc.id`, the chunk's text,
  /// no embedding, and `doc.metadata` plus "chunk_index", "start" and "end" (int64 byte
  /// offsets into `doc.text`), which replace any metadata of those names.
  [[nodiscard]] std::vector<IngestItem> split_document(const IngestItem& doc) const;

  [[nodiscard]] const SplitterOptions& options() const noexcept { return options_; }

private:
  SentenceSplitter(SplitterOptions options, const TokenEstimator& estimator)
      : options_(options), estimator_(&estimator) {}

  SplitterOptions options_;
  const TokenEstimator* estimator_; // not owned
};

// -- vector index -------------------------------------------------------------------------

/// One result of a `VectorIndex` query.
struct VectorHit {
  std::string id{};
  double score = 0.0;    ///< cosine similarity, in [-1, 1]
  std::size_t index = 0; ///< position in `VectorIndex::items()`; stable, items are never removed
};

/// Embedded items in memory, searched by cosine similarity with a linear scan: for thousands of
/// items, not millions.
///
/// Not synchronised: concurrent `query` calls are safe, `add` needs exclusive access.
class VectorIndex {
public:
  /// Adds `item`. Errors (bad_input): it has no embedding, its embedding holds a NaN or
  /// infinity, or its dimension differs from the first item's. Ids are not checked for
  /// uniqueness.
  Result<void> add(IngestItem item);

  /// The `k` items most similar to `embedding`, best first; ties keep insertion order. Fewer
  /// than `k` if the index holds fewer; none for an empty index. A zero vector scores 0
  /// against everything. Errors (bad_input): a dimension other than the index's, or a NaN or
  /// infinity in `embedding`.
  [[nodiscard]] Result<std::vector<VectorHit>> query(const std::vector<float>& embedding,
                                                     std::size_t k) const;

  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  /// The embedding dimension; 0 until the first `add`.
  [[nodiscard]] std::size_t dimension() const noexcept { return dimension_; }
  [[nodiscard]] const std::vector<IngestItem>& items() const noexcept { return items_; }

private:
  std::vector<IngestItem> items_;
  std::vector<double> squared_norms_; // of items_[i].embedding, computed once by add
  std::size_t dimension_ = 0;
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
