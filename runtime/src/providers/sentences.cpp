#include "providers/sentences.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace actorflow::detail {

bool is_heading_line(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ')
    ++i;
  const std::size_t hashes_begin = i;
  while (i < line.size() && line[i] == '#')
    ++i;
  const std::size_t hashes = i - hashes_begin;
  return hashes >= 1 && hashes <= 6 && (i == line.size() || line[i] == ' ' || line[i] == '\t');
}

std::optional<Fence> fence_of(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ')
    ++i;
  if (i == line.size() || (line[i] != '`' && line[i] != '~'))
    return std::nullopt;
  Fence fence{line[i], 0, true};
  while (i < line.size() && line[i] == fence.mark) {
    ++i;
    ++fence.length;
  }
  if (fence.length < 3)
    return std::nullopt;
  fence.bare = trim(line.substr(i)).empty();
  return fence;
}

bool Fence::closes(const Fence& opening) const noexcept {
  return bare && mark == opening.mark && length >= opening.length;
}

bool is_table_row(std::string_view line) {
  const std::string_view trimmed = trim(line);
  return !trimmed.empty() && trimmed.front() == '|';
}

namespace {

// Abbreviations after which a period never ends a sentence: titles precede a name, and
// "e.g."/"i.e." introduce the rest of the sentence.
bool is_never_final_abbreviation(std::string_view lower) {
  constexpr std::array<std::string_view, 13> abbreviations = {
      "cf", "dr", "e.g", "fig", "i.e", "jr", "mr", "mrs", "ms", "prof", "sr", "st", "vs"};
  return std::find(abbreviations.begin(), abbreviations.end(), lower) != abbreviations.end();
}

// "u.s", "a.m", "p.h.d": single letters separated by periods.
bool is_dotted_acronym(std::string_view lower) {
  if (lower.size() < 3)
    return false;
  for (std::size_t i = 0; i < lower.size(); ++i) {
    const bool letter_slot = i % 2 == 0;
    if (letter_slot ? !is_ascii_letter(lower[i]) : lower[i] != '.')
      return false;
  }
  return lower.size() % 2 == 1;
}

// How firmly a run of marks ends the sentence before it.
enum class Stop {
  none,   // an abbreviation or initial, the sentence goes on
  weak,   // ends it unless the next word starts in lowercase ("etc.", "U.S.", "...")
  strong, // ends it
};

// The word just before position `end`, without opening punctuation: "(Dr" gives "Dr".
std::string_view word_before(std::string_view text, std::size_t end) {
  std::size_t begin = end;
  while (begin > 0 && !is_space(text[begin - 1]))
    --begin;
  std::string_view word = text.substr(begin, end - begin);
  while (!word.empty() && !is_word_byte(word.front()))
    word.remove_prefix(1);
  return word;
}

Stop stop_strength(std::string_view text, std::size_t marks_begin, std::size_t marks_end) {
  const std::string_view marks = text.substr(marks_begin, marks_end - marks_begin);
  if (marks.find_first_not_of('.') != std::string_view::npos)
    return Stop::strong; // "!", "?", "?!", "!."
  if (marks.size() > 1)
    return Stop::weak; // an ellipsis often trails off mid-sentence
  const std::string lower = to_lower(word_before(text, marks_begin));
  if (is_never_final_abbreviation(lower))
    return Stop::none;
  if (lower.size() == 1 && is_ascii_letter(lower.front()))
    return Stop::none; // an initial, as in "J. Smith"
  if (lower == "etc" || is_dotted_acronym(lower))
    return Stop::weak;
  return Stop::strong;
}

bool is_mark(char c) { return c == '.' || c == '!' || c == '?'; }
bool is_closer(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }

class SentenceScanner {
public:
  explicit SentenceScanner(std::string_view text) : text_(text) {}

  std::vector<SentenceSpan> scan() && {
    std::size_t i = 0;
    while (i < text_.size())
      i = open_fence_ ? code_line(i) : step(i);
    end_sentence_at(text_.size(), open_fence_ ? Span::verbatim : Span::prose); // unclosed code ends
    return std::move(sentences_);
  }

private:
  enum class Span { prose, heading, verbatim };

  // Looks at position `i` and returns where to look next.
  std::size_t step(std::size_t i) {
    if (i == 0 || text_[i - 1] == '\n') {
      const std::size_t line_end = std::min(text_.find('\n', i), text_.size());
      const std::string_view line = text_.substr(i, line_end - i);
      if (is_heading_line(line) || is_table_row(line)) {
        end_sentence_at(i);
        end_sentence_at(line_end, is_table_row(line) ? Span::verbatim : Span::heading);
        return line_end;
      }
      if (auto fence = fence_of(line)) {
        end_sentence_at(i);
        open_fence_ = fence;
        return std::min(line_end + 1, text_.size());
      }
    }
    if (text_[i] == '\n' && starts_blank_line(i)) {
      end_sentence_at(i);
      return i + 1;
    }
    if (is_mark(text_[i]))
      return after_marks(i);
    return i + 1;
  }

  std::size_t after_marks(std::size_t marks_begin) {
    std::size_t marks_end = marks_begin;
    while (marks_end < text_.size() && is_mark(text_[marks_end]))
      ++marks_end;
    std::size_t end = marks_end;
    while (end < text_.size() && is_closer(text_[end]))
      ++end;
    // "3.14", "example.com" and "a.m.," go on: only a mark before whitespace can end a sentence.
    if (end < text_.size() && !is_space(text_[end]))
      return end;
    const Stop stop = stop_strength(text_, marks_begin, marks_end);
    if (stop == Stop::strong || (stop == Stop::weak && !next_word_is_lowercase(end)))
      end_sentence_at(end);
    return end;
  }

  // True if the line after the newline at `newline` holds only whitespace.
  [[nodiscard]] bool starts_blank_line(std::size_t newline) const {
    for (std::size_t i = newline + 1; i < text_.size(); ++i) {
      if (text_[i] == '\n')
        return true;
      if (!is_space(text_[i]))
        return false;
    }
    return false; // trailing whitespace: the end of the text ends the sentence anyway
  }

  [[nodiscard]] bool next_word_is_lowercase(std::size_t from) const {
    while (from < text_.size() && is_space(text_[from]))
      ++from;
    return from < text_.size() && is_ascii_lower(text_[from]);
  }

  // Inside a fenced code block, at the start of line `i`: nothing ends a sentence but the
  // closing fence, which ends the block. Returns the start of the next line.
  std::size_t code_line(std::size_t i) {
    const std::size_t line_end = std::min(text_.find('\n', i), text_.size());
    if (auto fence = fence_of(text_.substr(i, line_end - i));
        fence && fence->closes(*open_fence_)) {
      end_sentence_at(line_end, Span::verbatim);
      open_fence_.reset();
    }
    return std::min(line_end + 1, text_.size());
  }

  void end_sentence_at(std::size_t end, Span kind = Span::prose) {
    std::size_t begin = start_;
    while (begin < end && is_space(text_[begin]))
      ++begin;
    std::size_t trimmed_end = end;
    while (trimmed_end > begin && is_space(text_[trimmed_end - 1]))
      --trimmed_end;
    if (begin < trimmed_end)
      sentences_.push_back({begin, trimmed_end, kind == Span::heading, kind == Span::verbatim});
    start_ = end;
  }

  std::string_view text_;
  std::size_t start_ = 0;           // where the current sentence began
  std::optional<Fence> open_fence_; // inside a fenced code block: the fence that opened it
  std::vector<SentenceSpan> sentences_;
};

} // namespace

std::vector<SentenceSpan> sentence_spans(std::string_view text) {
  return SentenceScanner(text).scan();
}

} // namespace actorflow::detail
