#pragma once
/// Token estimates: how many model tokens a text will cost, known before any model is called.
///
/// Rate limits, context windows and budgets are all counted in tokens, but the real tokenizer
/// belongs to the provider (and may be remote). Everything that must decide before a call
/// (reserve tokens, split a batch, trim a prompt) asks a `TokenEstimator` instead.

#include <cstddef>
#include <string_view>

namespace actorflow {

/// Counts the tokens a text would take for some model. Replaceable: code that needs token counts
/// takes a `const TokenEstimator&`, so a host can pass an exact tokenizer for its model.
///
/// Implementations must be safe to call from several threads at once (`count` is const and
/// should keep no mutable state).
class TokenEstimator {
public:
  virtual ~TokenEstimator();
  /// The number of tokens `text` would take; 0 for an empty text.
  [[nodiscard]] virtual std::size_t count(std::string_view text) const = 0;

protected:
  TokenEstimator() = default;
  TokenEstimator(const TokenEstimator&) = default;
  TokenEstimator& operator=(const TokenEstimator&) = default;
};

/// A rule-based approximation of byte-pair-encoding tokenizers (OpenAI's cl100k_base and
/// o200k_base, and the similar Llama/Mistral vocabularies). It cuts the text into runs, as
/// those tokenizers' pre-tokenizers do, and prices each run:
///
/// | run | tokens | why |
/// | --- | --- | --- |
/// | `n` ASCII letters | `ceil(n / 8)` | common words are one token; long, rare ones split |
/// | `n` ASCII digits | `ceil(n / 3)` | numbers are cut into groups of up to 3 digits |
/// | a non-ASCII character | 1 each | accents, CJK, emoji: about 1 (often more) |
/// | `n` ASCII marks and symbols | `ceil(n / 2)` | "," is one; "...", "://", "();" merge |
/// | an apostrophe between letters | 0 | "don't" is "don" + "'t": the suffix pays |
/// | whitespace with a line break, or 2+ blanks | 1 | line breaks, indentation are tokens |
/// | a single space or tab | 0 | joins the word after it (" world") |
///
/// Expected error against cl100k_base/o200k_base: within about ±20% on English prose (about 1.3
/// tokens per word). It overestimates non-Latin alphabetic scripts (Cyrillic, Greek: up to about
/// 2x, since those vocabularies hold whole words) and is rougher still on source code, minified
/// data or long numbers: use it to reserve a budget, not to bill.
///
/// Stateless and thread-safe; one instance may be shared by every thread.
class HeuristicTokenEstimator final : public TokenEstimator {
public:
  [[nodiscard]] std::size_t count(std::string_view text) const override;
};

/// The estimator used when none is given: a process-wide `HeuristicTokenEstimator`.
[[nodiscard]] const TokenEstimator& default_token_estimator() noexcept;

/// `default_token_estimator().count(text)`.
[[nodiscard]] std::size_t estimate_tokens(std::string_view text);

} // namespace actorflow
