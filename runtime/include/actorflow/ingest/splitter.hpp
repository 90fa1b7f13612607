#pragma once
/// `SentenceSplitter`: chunks of whole sentences under a token budget, with overlap.
/// Deterministic: the same input gives the same chunks on every platform, run and locale.

#include <actorflow/ingest/item.hpp>
#include <actorflow/tokens.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

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

} // namespace actorflow
