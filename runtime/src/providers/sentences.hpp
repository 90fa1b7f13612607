#pragma once
/// Sentence boundaries, shared by the local model (TextRank summaries, `split_sentences`) and the
/// ingestion splitter (`SentenceSplitter`), so that both cut a text at the same places. The byte
/// classes behind them are in text.hpp.

#include "core/text.hpp"

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace actorflow::detail {

// -- sentences ------------------------------------------------------------------------------

/// True for a Markdown heading line: up to three spaces, one to six '#', then a space, a tab or
/// the end of the line.
bool is_heading_line(std::string_view line);
/// A Markdown code fence: up to three spaces, then three or more '`' or '~' (`mark`), then
/// perhaps an info string ("```python").
struct Fence {
  char mark = '`';
  std::size_t length = 0;
  bool bare = true; ///< nothing but whitespace after the marks
  /// Whether this fence closes a block that `opening` opened (CommonMark: the same mark, at
  /// least as many, no info string).
  [[nodiscard]] bool closes(const Fence& opening) const noexcept;
};
/// The fence `line` is, if it is one.
std::optional<Fence> fence_of(std::string_view line);
/// True for a Markdown table row: its first non-blank byte is '|'.
bool is_table_row(std::string_view line);

/// One sentence as a byte range `[begin, end)` of the text it was found in.
struct SentenceSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool heading = false; ///< a Markdown heading line: a title rather than prose
  /// A Markdown table row or fenced code block (fences included), kept whole: not prose.
  bool verbatim = false;
};

/// The sentences of `text` in order, by the rules documented at `split_sentences`
/// (local_model.hpp). Each span is trimmed (it starts and ends with a non-whitespace byte) and
/// non-empty; spans do not overlap, and every non-whitespace byte of `text` lies in one of
/// them, so what lies between two spans (or before the first, or after the last) is whitespace.
std::vector<SentenceSpan> sentence_spans(std::string_view text);

} // namespace actorflow::detail
