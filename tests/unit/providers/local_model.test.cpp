// The offline local model: sentences, summaries, titles, embeddings and chat replies.

#include <actorflow/local_model.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

using namespace actorflow;

namespace {

using Sentences = std::vector<std::string>;

// Five sentences: three about solar panels (they share "solar", "panels", "electricity"), two
// about nothing else in the text. Under a heading, which a summary must leave out.
constexpr std::string_view solar_text = "# Solar Power\n"
                                        "\n"
                                        "Solar panels convert sunlight into electricity for homes. "
                                        "My neighbour has a red bicycle. "
                                        "Modern solar panels produce more electricity than older "
                                        "panels.\n"
                                        "The weather was pleasant yesterday afternoon. "
                                        "Electricity from solar panels lowers household energy "
                                        "bills.";
constexpr std::string_view solar_1 = "Solar panels convert sunlight into electricity for homes.";
constexpr std::string_view solar_3 =
    "Modern solar panels produce more electricity than older panels.";
constexpr std::string_view solar_5 = "Electricity from solar panels lowers household energy bills.";

// The position of each sentence of `summary` among `sentences`: the summary must be made of
// whole sentences of the text, so each one is found, in a strictly increasing order.
std::vector<std::size_t> positions_in(const std::string& summary, const Sentences& sentences) {
  std::vector<std::size_t> positions;
  std::size_t offset = 0;
  while (offset < summary.size()) {
    bool found = false;
    for (std::size_t i = 0; i < sentences.size() && !found; ++i) {
      if (summary.compare(offset, sentences[i].size(), sentences[i]) == 0) {
        positions.push_back(i);
        offset += sentences[i].size() + 1; // and the joining space
        found = true;
      }
    }
    REQUIRE_MESSAGE(found, "not a sentence of the text: " << summary.substr(offset));
  }
  return positions;
}

double norm(const std::vector<float>& v) {
  double squares = 0.0;
  for (float x : v)
    squares += static_cast<double>(x) * static_cast<double>(x);
  return std::sqrt(squares);
}

double similarity(std::string_view a, std::string_view b) {
  return cosine_similarity(hashing_embedding(a), hashing_embedding(b));
}

} // namespace

TEST_SUITE("sentences") {

  TEST_CASE("sentences end at . ! or ? before whitespace, and at the end of the text") {
    CHECK(split_sentences("It rains. Does it? Yes! Then it stops") ==
          Sentences{"It rains.", "Does it?", "Yes!", "Then it stops"});
    CHECK(split_sentences("Really?! Yes.") == Sentences{"Really?!", "Yes."});
    CHECK(split_sentences("One sentence without a final mark") ==
          Sentences{"One sentence without a final mark"});
  }

  TEST_CASE("blank text has no sentences") {
    CHECK(split_sentences("").empty());
    CHECK(split_sentences(" \n\t\n ").empty());
  }

  TEST_CASE("titles and Latin abbreviations do not end a sentence") {
    CHECK(
        split_sentences("Mr. Smith and Dr. Jones met, e.g. at noon, i.e. lunchtime. Then they "
                        "left.") ==
        Sentences{"Mr. Smith and Dr. Jones met, e.g. at noon, i.e. lunchtime.", "Then they left."});
    CHECK(split_sentences("See Fig. 3 (cf. Prof. Lee). Done.") ==
          Sentences{"See Fig. 3 (cf. Prof. Lee).", "Done."});
  }

  TEST_CASE("initials do not end a sentence") {
    CHECK(split_sentences("J. R. R. Tolkien wrote books. They sold well.") ==
          Sentences{"J. R. R. Tolkien wrote books.", "They sold well."});
  }

  TEST_CASE("a period inside a number or a name does not end a sentence") {
    CHECK(split_sentences("Pi is about 3.14 and e is 2.718. See example.com for more.") ==
          Sentences{"Pi is about 3.14 and e is 2.718.", "See example.com for more."});
    CHECK(split_sentences("Version 2.0.") == Sentences{"Version 2.0."});
  }

  TEST_CASE("etc., acronyms and ellipses end a sentence only before a capital") {
    CHECK(split_sentences("We bought pears, etc. and left. We bought bread etc. Then we went "
                          "home.") == Sentences{"We bought pears, etc. and left.",
                                                "We bought bread etc.", "Then we went home."});
    CHECK(split_sentences("The meeting is at 9 a.m. Bring coffee.") ==
          Sentences{"The meeting is at 9 a.m.", "Bring coffee."});
    CHECK(split_sentences("She moved to the U.S. last year.") ==
          Sentences{"She moved to the U.S. last year."});
    CHECK(split_sentences("Well... maybe not. Wait... What?") ==
          Sentences{"Well... maybe not.", "Wait...", "What?"});
  }

  TEST_CASE("closing quotes and brackets stay with their sentence") {
    CHECK(split_sentences("He said \"Stop.\" Then he left. (It was late.) Fine.") ==
          Sentences{"He said \"Stop.\"", "Then he left.", "(It was late.)", "Fine."});
  }

  TEST_CASE("a blank line ends a sentence, a single line break does not") {
    CHECK(split_sentences("A heading without a period\n\nThis sentence is\nwrapped over two "
                          "lines.\n  \nLast one") ==
          Sentences{"A heading without a period", "This sentence is wrapped over two lines.",
                    "Last one"});
  }

  TEST_CASE("a Markdown heading line is a sentence of its own") {
    CHECK(split_sentences("# Title\nFirst sentence. Second\n## Part two\nThird.") ==
          Sentences{"# Title", "First sentence.", "Second", "## Part two", "Third."});
    CHECK(split_sentences("#hashtag is no heading. Nor is ####### seven.") ==
          Sentences{"#hashtag is no heading.", "Nor is ####### seven."});
  }

  TEST_CASE("Markdown table rows and fenced code blocks are sentences of their own") {
    CHECK(split_sentences("Before the table.\n| a. b | c |\n|---|---|\nAfter. It ends.") ==
          Sentences{"Before the table.", "| a. b | c |", "|---|---|", "After.", "It ends."});
    // Nothing inside a block ends it, blank lines and sentence marks included; only its fence.
    CHECK(split_sentences("Run this:\n```sh\nmake. test!\n\ncd x\n```\nDone.") ==
          Sentences{"Run this:", "```sh make. test! cd x ```", "Done."});
    CHECK(split_sentences("Open.\n~~~\nnever closed. Still code") ==
          Sentences{"Open.", "~~~ never closed. Still code"});
    CHECK(split_sentences("Two ``` in prose do not open a block. Next.") ==
          Sentences{"Two ``` in prose do not open a block.", "Next."});
    // Only a bare fence of the same mark, at least as long, closes a block (CommonMark).
    CHECK(split_sentences("````\na.\n~~~\n```\nb.\n````\nAfter.") ==
          Sentences{"```` a. ~~~ ``` b. ````", "After."});
    CHECK(split_sentences("```python\nx = 1\n```python\n```\nDone.") ==
          Sentences{"```python x = 1 ```python ```", "Done."});
  }

} // TEST_SUITE

TEST_SUITE("summary") {

  TEST_CASE("blank text or zero sentences give an empty summary") {
    CHECK(extractive_summary("", 3).empty());
    CHECK(extractive_summary("  \n\n ", 3).empty());
    CHECK(extractive_summary(solar_text, 0).empty());
  }

  TEST_CASE("a text with no more sentences than asked for is returned whole, joined by spaces") {
    CHECK(extractive_summary("First.\n\nSecond   one.\nThird", 3) == "First. Second one. Third");
    CHECK(extractive_summary("Only one.", 5) == "Only one.");
  }

  TEST_CASE("the summary keeps the sentences that carry the document's recurring terms") {
    CHECK(extractive_summary(solar_text, 3) ==
          std::string(solar_1) + " " + std::string(solar_3) + " " + std::string(solar_5));

    const std::string two = extractive_summary(solar_text, 2);
    CHECK(two.find("bicycle") == std::string::npos);
    CHECK(two.find("weather") == std::string::npos);
    const auto positions = positions_in(two, split_sentences(solar_text));
    CHECK(positions.size() == 2);
  }

  TEST_CASE("the summary leaves headings, table rows and code out") {
    CHECK(extractive_summary(solar_text, 4).find("Solar Power") == std::string::npos);
    CHECK(extractive_summary("# Only a heading", 2).empty());
    // The table and the code repeat the prose's terms, so TextRank would pick them if it saw them.
    const std::string markdown = std::string(solar_text) +
                                 "\n| solar panels | solar power | sunlight |\n"
                                 "```\nsolar panels convert sunlight into solar power\n```\n";
    const std::string summary = extractive_summary(markdown, 3);
    CHECK(summary == extractive_summary(solar_text, 3));
  }

  TEST_CASE("chosen sentences keep the order of the text") {
    // The most central sentence (it shares terms with every other) comes last.
    const std::string text = "Actors exchange messages. Bananas are yellow. Messages wake "
                             "actors. Rivers flow downhill. Actors process messages and send "
                             "messages to other actors.";
    const Sentences sentences = split_sentences(text);
    for (std::size_t max = 1; max <= 4; ++max) {
      CAPTURE(max);
      const auto positions = positions_in(extractive_summary(text, max), sentences);
      CHECK(positions.size() == max);
      for (std::size_t i = 1; i < positions.size(); ++i)
        CHECK(positions[i - 1] < positions[i]);
    }
    CHECK(extractive_summary(text, 1) ==
          "Actors process messages and send messages to other actors.");
    CHECK(extractive_summary(text, 3) == "Actors exchange messages. Messages wake actors. Actors "
                                         "process messages and send messages to other actors.");
  }

  TEST_CASE("without shared terms the earliest sentences win") {
    CHECK(extractive_summary("Cats purr. Dogs bark. Birds sing. Fish swim.", 2) ==
          "Cats purr. Dogs bark.");
  }

  TEST_CASE("the same text gives the same summary") {
    std::string text;
    const char* topics[] = {"actors", "messages", "threads", "mailboxes", "schedulers", "timers"};
    for (int i = 0; i < 3000; ++i) // also large enough to show the ranking is not quadratic
      text += std::string("Sentence ") + std::to_string(i) + " mentions " + topics[i % 6] +
              " and " + topics[(i * 7 + 1) % 6] + ". ";
    const std::string first = extractive_summary(text, 5);
    CHECK(first == extractive_summary(text, 5));
    CHECK(positions_in(first, split_sentences(text)).size() == 5);
  }

} // TEST_SUITE

TEST_SUITE("title") {

  TEST_CASE("a leading Markdown heading is the title, as written") {
    CHECK(extract_title("# Building Actor Runtimes\n\nSome text about threads.") ==
          "Building Actor Runtimes");
    CHECK(extract_title("\n\n  ## Setup with gRPC ##\nText.") == "Setup with gRPC");
    CHECK(extract_title("# One two three four five six seven eight") ==
          "One two three four five six");
    CHECK(extract_title("# One two three four", 2) == "One two");
  }

  TEST_CASE("without a heading, the title is the most frequent terms in text order") {
    CHECK(extract_title(solar_text.substr(solar_text.find("Solar panels"))) ==
          "Solar Panels Electricity");
    CHECK(extract_title("CAF runs actors. CAF schedules actors on threads.") == "CAF Actors");
    CHECK(extract_title("2024 2024 2024 budget budget review.") == "Budget");
  }

  TEST_CASE("a title has at most max_words words") {
    const std::string text = "alpha beta gamma delta alpha beta gamma delta";
    CHECK(extract_title(text, 2) == "Alpha Beta");
    CHECK(extract_title(text, 10) == "Alpha Beta Gamma Delta");
    CHECK(extract_title(text, 0).empty());
  }

  TEST_CASE("odd texts still get a deterministic title") {
    CHECK(extract_title("").empty());
    CHECK(extract_title("  \n ").empty());
    CHECK(extract_title("to be or not to be, that is it") == "To Be Or Not To Be");
    CHECK(extract_title("Distinct words only here") == "Distinct Words");
  }

} // TEST_SUITE

TEST_SUITE("embedding") {

  TEST_CASE("the embedding has the requested dimension") {
    CHECK(hashing_embedding("some text").size() == 256);
    CHECK(hashing_embedding("some text", 16).size() == 16);
    CHECK(hashing_embedding("some text", 1000).size() == 1000);
    CHECK(hashing_embedding("some text", 0).empty());
  }

  TEST_CASE("an embedding has unit length") {
    for (std::string_view text :
         {"a", "The cat sat on the mat.", "to be or not to be", "caf\xC3\xA9 au lait",
          "A much longer text about actor runtimes, mailboxes, schedulers and message passing."}) {
      CAPTURE(text);
      CHECK(norm(hashing_embedding(text)) == doctest::Approx(1.0).epsilon(1e-6));
      CHECK(norm(hashing_embedding(text, 3)) == doctest::Approx(1.0).epsilon(1e-6));
    }
  }

  TEST_CASE("text without words gives the zero vector") {
    for (std::string_view text : {"", "   ", "!?., --"}) {
      const auto embedding = hashing_embedding(text, 32);
      REQUIRE(embedding.size() == 32);
      for (float x : embedding)
        CHECK(x == 0.0F); // in particular no NaN from normalising nothing
    }
  }

  TEST_CASE("identical texts give identical embeddings") {
    const std::string_view text = "Identical texts, identical vectors.";
    CHECK(hashing_embedding(text) == hashing_embedding(text));
    CHECK(similarity(text, text) == doctest::Approx(1.0));
    CHECK(hashing_embedding("Hello World") == hashing_embedding("hello   world"));
  }

  TEST_CASE("the hash is our own and stable: known vectors") {
    // Computed by an independent implementation of the documented scheme (FNV-1a 64 + fmix64).
    const std::vector<float> actor = hashing_embedding("actor", 8);
    const std::vector<double> expected = {0,         0,          0,          0,
                                          0.3779645, -0.3779645, -0.7559289, -0.3779645};
    REQUIRE(actor.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      CHECK(actor[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  }

  TEST_CASE("texts that share most words are far closer than unrelated ones") {
    const std::string_view bank_a = "Interest rates rose sharply after the central bank meeting.";
    const std::string_view bank_b =
        "The central bank raised interest rates sharply at its meeting.";
    const std::string_view train_a = "The train to Berlin leaves at noon from platform four.";
    const std::string_view train_b = "Trains for Berlin depart from platform four at noon.";
    const std::string_view cat = "The cat sat on the mat and purred quietly.";

    CHECK(similarity(bank_a, bank_b) > similarity(bank_a, train_a) + 0.3);
    CHECK(similarity(bank_a, bank_b) > similarity(bank_b, cat) + 0.3);
    CHECK(similarity(train_a, train_b) > similarity(train_a, bank_b) + 0.3);
    CHECK(similarity(train_a, train_b) > similarity(train_b, cat) + 0.3);
    CHECK(similarity("quick brown fox jumps over the lazy dog",
                     "quick brown fox jumped over the lazy dog") > 0.7);
  }

  TEST_CASE("stop words do not make texts similar") {
    // Without the stop-word filter these share "it is", "and it is", "for them": cosine 0.74.
    CHECK(similarity("It is on the desk and it is ready for them.",
                     "It is in the news and it is not for them.") < 0.3);
    CHECK(similarity("The report is on the desk.", "The weather is in the news.") < 0.3);
  }

  TEST_CASE("a text of stop words only still has a direction") {
    CHECK(norm(hashing_embedding("to be or not to be")) == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(similarity("to be or not to be", "Interest rates rose") < 0.3);
  }

  TEST_CASE("cosine similarity of vectors") {
    const std::vector<float> x = {1, 0, 0};
    const std::vector<float> y = {0, 2, 0};
    const std::vector<float> minus_x = {-3, 0, 0};
    const std::vector<float> zero = {0, 0, 0};
    CHECK(cosine_similarity(x, x) == doctest::Approx(1.0));
    CHECK(cosine_similarity(x, y) == doctest::Approx(0.0));
    CHECK(cosine_similarity(x, minus_x) == doctest::Approx(-1.0));
    CHECK(cosine_similarity({1, 1}, {1, 0}) == doctest::Approx(std::sqrt(0.5)));
    CHECK(cosine_similarity(x, {1, 0}) == 0.0); // sizes differ
    CHECK(cosine_similarity(x, zero) == 0.0);   // no direction
    CHECK(cosine_similarity({}, {}) == 0.0);
  }

} // TEST_SUITE

TEST_SUITE("chat") {

  constexpr std::string_view four_facts = "Cats purr. Dogs bark. Birds sing. Fish swim.";

  TEST_CASE("a request to summarise gets a three-sentence extractive summary of the text") {
    const std::string expected = extractive_summary(solar_text, 3);
    CHECK(local_chat_reply("Summarize: " + std::string(solar_text)) == expected);
    CHECK(local_chat_reply("Please SUMMARISE the following.\n\n" + std::string(solar_text)) ==
          expected);
    CHECK(local_chat_reply("TL;DR\n" + std::string(solar_text)) == expected);
    CHECK(local_chat_reply("tldr: " + std::string(four_facts)) ==
          "Cats purr. Dogs bark. Birds sing.");
  }

  TEST_CASE("a request for a title gets extract_title of the text") {
    const std::string text = "CAF runs actors. CAF schedules actors on threads.";
    CHECK(local_chat_reply("Suggest a title:\n" + text) == "CAF Actors");
    CHECK(local_chat_reply("Title for this: " + text) == "CAF Actors");
    CHECK(local_chat_reply("Write a title for this summary:\n" + text) == "CAF Actors");
  }

  TEST_CASE("an instruction on one line without a text applies to the line itself") {
    CHECK(local_chat_reply("Summarize everything. Then stop. Cats purr. Dogs bark.") ==
          extractive_summary("Summarize everything. Then stop. Cats purr. Dogs bark.", 3));
  }

  TEST_CASE("anything else gets a reply that says it comes from the local model") {
    CHECK(local_chat_reply("What is the capital of France?") ==
          "[local model] What is the capital of France?");
    CHECK(local_chat_reply("  Two\n\nlines  ") == "[local model] Two lines");
    CHECK(local_chat_reply(" \n ") == "[local model] (empty prompt)");
    CHECK(local_chat_reply("Is this subtitled?") == "[local model] Is this subtitled?");
  }

  TEST_CASE("a long prompt is cut to 200 bytes, never inside a UTF-8 character") {
    const std::string ascii(300, 'a');
    CHECK(local_chat_reply(ascii) == "[local model] " + std::string(200, 'a') + "...");
    const std::string accented = std::string(199, 'a') + "\xC3\xA9" + "tail"; // é at bytes 199-200
    CHECK(local_chat_reply(accented) == "[local model] " + std::string(199, 'a') + "...");
  }

  TEST_CASE("the same prompt gets the same reply") {
    const std::string prompt = "Summarize:\n" + std::string(solar_text);
    CHECK(local_chat_reply(prompt) == local_chat_reply(prompt));
  }

} // TEST_SUITE

TEST_CASE("is_stop_word knows the function words the local model skips, and only those") {
  for (const char* word : {"the", "shall", "yourselves", "isn"})
    CHECK(is_stop_word(word));
  for (const char* word : {"license", "actor", "The", ""})
    CHECK_FALSE(is_stop_word(word));
}
