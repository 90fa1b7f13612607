#pragma once
/// Sentence boundaries and the byte classes behind them, shared by the local model (TextRank
/// summaries, `split_sentences`) and the ingestion splitter (`SentenceSplitter`), so that both
/// cut a text at the same places.
///
/// Text is handled as bytes and independent of the locale: only ASCII letters have a case, and
/// every non-ASCII byte counts as part of a word (so UTF-8 letters stay inside their words).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::detail {

// -- bytes ----------------------------------------------------------------------------------
// Our own classification: <cctype> follows the C locale, and our results must not.

inline bool is_ascii_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_ascii_letter(char c) { return is_ascii_lower(c) || is_ascii_upper(c); }
inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
inline bool is_utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline bool is_word_byte(char c) {
  return is_ascii_letter(c) || is_ascii_digit(c) || is_non_ascii(c);
}
inline char ascii_lower(char c) { return is_ascii_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
inline char ascii_upper(char c) { return is_ascii_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

/// `text` with ASCII letters lowercased.
std::string to_lower(std::string_view text);
/// `text` without leading and trailing whitespace.
std::string_view trim(std::string_view text);

// -- sentences ------------------------------------------------------------------------------

/// True for a Markdown heading line: up to three spaces, one to six '#', then a space, a tab or
/// the end of the line.
bool is_heading_line(std::string_view line);

/// One sentence as a byte range `[begin, end)` of the text it was found in.
struct SentenceSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool heading = false; ///< a Markdown heading line: a title rather than prose
};

/// The sentences of `text` in order, by the rules documented at `split_sentences`
/// (local_model.hpp). Each span is trimmed (it starts and ends with a non-whitespace byte) and
/// non-empty; spans do not overlap, and every non-whitespace byte of `text` lies in one of
/// them, so what lies between two spans (or before the first, or after the last) is whitespace.
std::vector<SentenceSpan> sentence_spans(std::string_view text);

} // namespace actorflow::detail
