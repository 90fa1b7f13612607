// SentenceSplitter: chunks of whole sentences under a token budget, with overlap.

#include <actorflow/ingest/splitter.hpp>

#include "core/text.hpp"
#include "ingest/ingest_support.hpp"
#include "providers/sentences.hpp"

#include <utility>

namespace actorflow {

using detail::bad_input;

// -- splitter -------------------------------------------------------------------------------

namespace {

// The largest x in [lo, hi] with fits(x), searching from lo (assumed to fit, or forced) by
// doubling steps, then bisecting: O(log(x - lo)) calls. If fits is monotone this is the
// largest fitting x; if not, it is still one that fits (or lo), and x + 1 (if <= hi) was seen
// not to fit.
template <class Fits>
std::size_t last_fitting(std::size_t lo, std::size_t hi, Fits fits) {
  std::size_t good = lo;
  std::size_t step = 1;
  while (step <= hi - good && fits(good + step)) {
    good += step;
    step *= 2;
  }
  std::size_t bad = step <= hi - good ? good + step : hi + 1; // tested false, or past the end
  while (bad - good > 1) {
    const std::size_t mid = good + (bad - good) / 2;
    if (fits(mid))
      good = mid;
    else
      bad = mid;
  }
  return good;
}

// A run of bytes the packer never cuts: a sentence, or a word (or a piece of one) of a sentence
// too large for a chunk. Pieces tile the text: each owns the whitespace after it.
struct Piece {
  std::size_t begin = 0;
  std::size_t end = 0;
};

class Chunker {
public:
  Chunker(std::string_view text, const SplitterOptions& options, const TokenEstimator& estimator)
      : text_(text), options_(options), estimator_(estimator) {}

  std::vector<TextSpan> chunks() && {
    const std::vector<detail::SentenceSpan> sentences = detail::sentence_spans(text_);
    for (std::size_t k = 0; k < sentences.size(); ++k) {
      const std::size_t begin = k == 0 ? 0 : sentences[k].begin;
      const std::size_t end = k + 1 < sentences.size() ? sentences[k + 1].begin : text_.size();
      add_sentence(begin, end);
    }
    if (pieces_.empty())
      return {};
    std::vector<TextSpan> chunks;
    std::size_t start = 0;
    std::size_t first_new = 0; // the first piece the next chunk must take whole
    while (true) {
      const std::size_t last = last_fitting(first_new, pieces_.size() - 1, [&](std::size_t x) {
        return fits(start, pieces_[x].end, size());
      });
      chunks.push_back({start, pieces_[last].end});
      if (last + 1 == pieces_.size())
        return chunks;
      first_new = last + 1;
      start = overlap_start(start, last, first_new);
    }
  }

private:
  [[nodiscard]] std::size_t size() const { return options_.chunk_size; }

  [[nodiscard]] bool fits(std::size_t begin, std::size_t end, std::size_t budget) const {
    return estimator_.count(text_.substr(begin, end - begin)) <= budget;
  }

  void add_sentence(std::size_t begin, std::size_t end) {
    if (fits(begin, end, size())) {
      pieces_.push_back({begin, end});
      return;
    }
    // Too large: cut it before each word (a word starts where whitespace ends), but not before
    // the first, so that leading whitespace of the text never makes a piece of its own.
    std::size_t word = begin;
    bool word_has_content = !detail::is_space(text_[begin]);
    for (std::size_t i = begin + 1; i < end; ++i) {
      if (detail::is_space(text_[i]))
        continue;
      if (detail::is_space(text_[i - 1]) && word_has_content) {
        add_word(word, i);
        word = i;
      }
      word_has_content = true;
    }
    add_word(word, end);
  }

  // `[begin, end)` holds one word with the whitespace after it (and, first in the text, the
  // whitespace before it).
  void add_word(std::size_t begin, std::size_t end) {
    if (fits(begin, end, size())) {
      pieces_.push_back({begin, end});
      return;
    }
    // Too large even alone: cut it between UTF-8 characters, as few times as the budget allows.
    // Only inside the non-whitespace core, so that every piece holds a character and whitespace
    // stays with the character next to it.
    std::size_t content_begin = begin;
    while (detail::is_space(text_[content_begin]))
      ++content_begin;
    std::size_t content_end = end;
    while (detail::is_space(text_[content_end - 1]))
      --content_end;
    std::vector<std::size_t> cuts{begin}; // where a piece may start, then `end`
    for (std::size_t i = next_character(content_begin, content_end); i < content_end;
         i = next_character(i, content_end))
      cuts.push_back(i);
    cuts.push_back(end);
    std::size_t from = 0;
    while (from + 1 < cuts.size()) {
      const std::size_t to = last_fitting(from + 1, cuts.size() - 1, [&](std::size_t x) {
        return fits(cuts[from], cuts[x], size());
      });
      pieces_.push_back({cuts[from], cuts[to]});
      from = to;
    }
  }

  // Where the character starting at `i` ends: after its continuation bytes, at most 4 bytes
  // in all (invalid UTF-8 is cut every 4 bytes rather than never).
  [[nodiscard]] std::size_t next_character(std::size_t i, std::size_t end) const {
    std::size_t next = i + 1;
    while (next < end && next - i < 4 && detail::is_utf8_continuation(text_[next]))
      ++next;
    return next;
  }

  // Where the chunk after [start, pieces_[last].end) starts, so that it shares at most
  // chunk_overlap tokens with it and still fits piece `first_new` within chunk_size.
  [[nodiscard]] std::size_t overlap_start(std::size_t start, std::size_t last,
                                          std::size_t first_new) const {
    const std::size_t shared_end = pieces_[last].end;
    const std::size_t new_end = pieces_[first_new].end;
    const auto acceptable = [&](std::size_t candidate) {
      return candidate > start && fits(candidate, shared_end, options_.chunk_overlap) &&
             fits(candidate, new_end, size());
    };
    std::size_t chosen = shared_end; // no overlap
    // Whole trailing pieces (sentences), the more the better.
    for (std::size_t k = last + 1; k-- > 0 && acceptable(pieces_[k].begin);)
      chosen = pieces_[k].begin;
    if (chosen != shared_end)
      return chosen;
    // Not even the last sentence fits: its trailing words, the more the better.
    for (std::size_t i = shared_end; i-- > pieces_[last].begin + 1;) {
      if (!detail::is_space(text_[i - 1]) || detail::is_space(text_[i]))
        continue;
      if (!acceptable(i))
        break;
      chosen = i;
    }
    return chosen;
  }

  std::string_view text_;
  const SplitterOptions& options_;
  const TokenEstimator& estimator_;
  std::vector<Piece> pieces_;
};

} // namespace

Result<SentenceSplitter> SentenceSplitter::make(SplitterOptions options,
                                                const TokenEstimator& estimator) {
  if (options.chunk_size == 0)
    return bad_input("SentenceSplitter: chunk_size must be at least 1 token");
  if (options.chunk_overlap >= options.chunk_size)
    return bad_input("SentenceSplitter: chunk_overlap (" + std::to_string(options.chunk_overlap) +
                     ") must be smaller than chunk_size (" + std::to_string(options.chunk_size) +
                     ")");
  return SentenceSplitter(options, estimator);
}

std::vector<TextSpan> SentenceSplitter::split(std::string_view text) const {
  return Chunker(text, options_, *estimator_).chunks();
}

std::vector<IngestItem> SentenceSplitter::split_document(const IngestItem& doc) const {
  std::vector<IngestItem> chunks;
  const std::vector<TextSpan> spans = split(doc.text);
  chunks.reserve(spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) {
    IngestItem chunk;
    chunk.id = doc.id + "#" + std::to_string(i);
    chunk.ref_doc_id = doc.id;
    chunk.text = doc.text.substr(spans[i].start, spans[i].end - spans[i].start);
    chunk.metadata = doc.metadata;
    chunk.metadata.insert_or_assign("chunk_index", static_cast<std::int64_t>(i));
    chunk.metadata.insert_or_assign("start", static_cast<std::int64_t>(spans[i].start));
    chunk.metadata.insert_or_assign("end", static_cast<std::int64_t>(spans[i].end));
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

} // namespace actorflow
