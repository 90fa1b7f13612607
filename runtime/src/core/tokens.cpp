#include <actorflow/tokens.hpp>

#include "core/text.hpp"

#include <cstdint>

namespace actorflow {

namespace {

// The run kinds of a pre-tokenizer: BPE tokenizers first cut text at changes between these
// kinds, then merge bytes within each piece, so a piece's token count depends on its kind.
enum class RunKind : std::uint8_t { letters, digits, non_ascii, space, punctuation };

RunKind kind_of(char c) {
  if (detail::is_non_ascii(c))
    return RunKind::non_ascii;
  if (detail::is_ascii_letter(c))
    return RunKind::letters;
  if (detail::is_ascii_digit(c))
    return RunKind::digits;
  if (detail::is_space(c))
    return RunKind::space;
  return RunKind::punctuation;
}

std::size_t ceil_div(std::size_t n, std::size_t d) { return (n + d - 1) / d; }

// Letters per token: English words up to 8 letters are nearly always one token in 100k+
// vocabularies, and longer words average about one token per 8 letters (common ones less, rare
// ones more). Together with punctuation this lands on the usual ~1.3 tokens per English word.
constexpr std::size_t letters_per_token = 8;
// cl100k_base and o200k_base split numbers into groups of at most three digits.
constexpr std::size_t digits_per_token = 3;
// Single marks are one token each; runs of marks ("...", "://", "();") often merge in pairs.
constexpr std::size_t marks_per_token = 2;

std::size_t non_ascii_tokens(std::string_view run) {
  std::size_t characters = 0;
  for (char c : run)
    if (!detail::is_utf8_continuation(c))
      ++characters;
  // Stray continuation bytes (invalid UTF-8) still cost something.
  return characters == 0 ? 1 : characters;
}

std::size_t space_tokens(std::string_view run) {
  // One space or tab is absorbed by the next word (" world" is one token); line breaks and
  // indentation are tokens of their own.
  return run.size() >= 2 || run.find('\n') != std::string_view::npos ? 1 : 0;
}

// An apostrophe inside a word ("don't", "it's") starts the suffix token "'t"/"'s", which the
// letters after it already pay for.
bool is_inner_apostrophe(std::string_view text, std::size_t begin, std::size_t end) {
  return end == begin + 1 && text[begin] == '\'' && begin > 0 && end < text.size() &&
         kind_of(text[begin - 1]) == RunKind::letters && kind_of(text[end]) == RunKind::letters;
}

std::size_t run_tokens(std::string_view text, std::size_t begin, std::size_t end, RunKind kind) {
  const std::string_view run = text.substr(begin, end - begin);
  switch (kind) {
    case RunKind::letters:
      return ceil_div(run.size(), letters_per_token);
    case RunKind::digits:
      return ceil_div(run.size(), digits_per_token);
    case RunKind::non_ascii:
      return non_ascii_tokens(run);
    case RunKind::space:
      return space_tokens(run);
    case RunKind::punctuation:
      return is_inner_apostrophe(text, begin, end) ? 0 : ceil_div(run.size(), marks_per_token);
  }
  return 0;
}

} // namespace

TokenEstimator::~TokenEstimator() = default;

std::size_t HeuristicTokenEstimator::count(std::string_view text) const {
  std::size_t tokens = 0;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const RunKind kind = kind_of(text[begin]);
    std::size_t end = begin + 1;
    while (end < text.size() && kind_of(text[end]) == kind)
      ++end;
    tokens += run_tokens(text, begin, end, kind);
    begin = end;
  }
  return tokens;
}

const TokenEstimator& default_token_estimator() noexcept {
  static const HeuristicTokenEstimator estimator;
  return estimator;
}

std::size_t estimate_tokens(std::string_view text) { return default_token_estimator().count(text); }

} // namespace actorflow
