// Token estimates: exact counts for the rules, and ranges around real tokenizer counts.

#include <actorflow/tokens.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>

using namespace actorflow;

namespace {

// `real_tokens` are cl100k_base counts, checked by hand against its pre-tokenizer (words with
// their leading space, "'t"/"'s" suffixes, digits in threes, one token per mark); the estimate
// must land within `tolerance` (a fraction) of them, the error the header promises for prose.
void check_close_to(std::string_view text, std::size_t real_tokens, double tolerance = 0.2) {
  const auto estimate = static_cast<double>(estimate_tokens(text));
  const auto real = static_cast<double>(real_tokens);
  INFO("text: ", text, " estimate: ", estimate, " real: ", real);
  CHECK(estimate >= real * (1.0 - tolerance));
  CHECK(estimate <= real * (1.0 + tolerance));
}

// Counts every byte as one token, to show that callers can swap the estimator.
class BytesAsTokens final : public TokenEstimator {
public:
  [[nodiscard]] std::size_t count(std::string_view text) const override { return text.size(); }
};

std::size_t count_with(const TokenEstimator& estimator, std::string_view text) {
  return estimator.count(text);
}

} // namespace

TEST_SUITE("tokens") {

  TEST_CASE("empty and blank texts cost nothing or almost nothing") {
    CHECK(estimate_tokens("") == 0);
    CHECK(estimate_tokens(" ") == 0);
    CHECK(estimate_tokens("\n") == 1); // a line break is a token of its own
  }

  TEST_CASE("each rule prices its kind of run") {
    SUBCASE("a common word is one token, a long one several") {
      CHECK(estimate_tokens("hello") == 1);
      CHECK(estimate_tokens("abcdefgh") == 1);
      CHECK(estimate_tokens("abcdefghi") == 2);
      CHECK(estimate_tokens("supercalifragilisticexpialidocious") == 5); // 34 letters
    }
    SUBCASE("numbers go in groups of three digits") {
      CHECK(estimate_tokens("7") == 1);
      CHECK(estimate_tokens("123") == 1);
      CHECK(estimate_tokens("1234") == 2);
      CHECK(estimate_tokens("1234567") == 3);
    }
    SUBCASE("marks are one token, runs of marks about one per two") {
      CHECK(estimate_tokens(",") == 1);
      CHECK(estimate_tokens("...") == 2);
      CHECK(estimate_tokens("a, b") == 3);
    }
    SUBCASE("a single space joins the next word, line breaks and indentation do not") {
      CHECK(estimate_tokens("one two three") == 3);
      CHECK(estimate_tokens("one\ntwo") == 3);
      CHECK(estimate_tokens("one    two") == 3);
    }
    SUBCASE("an apostrophe inside a word is part of the suffix token") {
      CHECK(estimate_tokens("don't") == 2);
      CHECK(estimate_tokens("'quoted'") == 3); // quotes at the edges are marks
    }
    SUBCASE("each non-ASCII character costs one") {
      CHECK(estimate_tokens("caf\xC3\xA9") == 2);              // "café": caf + é
      CHECK(estimate_tokens("\xE4\xBD\xA0\xE5\xA5\xBD") == 2); // 你好
      CHECK(estimate_tokens("\xF0\x9F\x98\x80") == 1);         // one emoji
      CHECK(estimate_tokens("\x80\x80") == 1); // stray continuation bytes still cost something
    }
  }

  TEST_CASE("estimates of English sentences are close to a real BPE tokenizer") {
    check_close_to("Hello, world!", 4); // Hello , world !
    check_close_to("The quick brown fox jumps over the lazy dog.", 10);
    check_close_to("I can't believe it's already 2024!", 11);
    check_close_to("Actor runtimes schedule lightweight processes on a small pool of threads, "
                   "so that millions of them can wait without blocking anything.",
                   24);
  }

  TEST_CASE("the estimate grows with the text") {
    const std::string sentence = "Tokens are counted before the model is called. ";
    std::string text;
    std::size_t previous = 0;
    for (int copies = 1; copies <= 20; ++copies) {
      text += sentence;
      const std::size_t now = estimate_tokens(text);
      CHECK(now > previous);
      previous = now;
    }
    // Repeating a text repeats its cost: the rules are local, nothing depends on the whole.
    CHECK(estimate_tokens(text) == 20 * estimate_tokens(sentence));
  }

  TEST_CASE("the default estimator is one shared heuristic instance") {
    CHECK(&default_token_estimator() == &default_token_estimator());
    CHECK(dynamic_cast<const HeuristicTokenEstimator*>(&default_token_estimator()) != nullptr);
    const std::string_view text = "The same text, the same count.";
    CHECK(default_token_estimator().count(text) == estimate_tokens(text));
    CHECK(HeuristicTokenEstimator{}.count(text) == estimate_tokens(text));
  }

  TEST_CASE("callers can substitute their own estimator") {
    const BytesAsTokens bytes;
    CHECK(count_with(bytes, "Hello, world!") == 13);
    CHECK(count_with(default_token_estimator(), "Hello, world!") == 4);
  }

} // TEST_SUITE
