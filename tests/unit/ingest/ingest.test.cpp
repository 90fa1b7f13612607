// Ingestion pieces: items, the directory reader, the sentence splitter, the vector index, and
// saving and loading items.

#include <actorflow/ingest.hpp>

#include "providers/sentences.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
namespace fs = std::filesystem;

namespace {

// -- helpers ------------------------------------------------------------------------------

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return detail::is_space(c); });
}

// Every guarantee of SentenceSplitter::split, checked on `text`.
std::vector<TextSpan> check_split(std::string_view text, SplitterOptions options,
                                  const TokenEstimator& estimator = default_token_estimator()) {
  const SentenceSplitter splitter = must(SentenceSplitter::make(options, estimator));
  const std::vector<TextSpan> chunks = splitter.split(text);
  INFO("chunk_size ", options.chunk_size, ", chunk_overlap ", options.chunk_overlap);
  if (is_blank(text)) {
    CHECK(chunks.empty());
    return chunks;
  }
  REQUIRE_FALSE(chunks.empty());
  CHECK(chunks.front().start == 0);
  CHECK(chunks.back().end == text.size());

  // Sentence ends as the splitter tiles them: each sentence owns the whitespace after it.
  const auto sentences = detail::sentence_spans(text);
  std::set<std::size_t> sentence_ends;
  bool every_sentence_fits = true;
  for (std::size_t k = 0; k < sentences.size(); ++k) {
    const std::size_t begin = k == 0 ? 0 : sentences[k].begin;
    const std::size_t end = k + 1 < sentences.size() ? sentences[k + 1].begin : text.size();
    sentence_ends.insert(end);
    every_sentence_fits = every_sentence_fits &&
                          estimator.count(text.substr(begin, end - begin)) <= options.chunk_size;
  }

  std::string rebuilt;
  std::size_t previous_end = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const TextSpan& chunk = chunks[i];
    INFO("chunk ", i, " [", chunk.start, ", ", chunk.end, ")");
    REQUIRE(chunk.start < chunk.end);
    REQUIRE(chunk.end <= text.size());
    const std::string_view chunk_text = text.substr(chunk.start, chunk.end - chunk.start);
    CHECK_FALSE(is_blank(chunk_text));
    // Never inside a UTF-8 sequence.
    CHECK_FALSE(detail::is_utf8_continuation(text[chunk.start]));
    if (chunk.end < text.size())
      CHECK_FALSE(detail::is_utf8_continuation(text[chunk.end]));
    const std::size_t tokens = estimator.count(chunk_text);
    // The documented exception: one character (with its whitespace) that alone is too large.
    const std::string_view core = detail::trim(chunk_text);
    const bool one_character =
        core.size() <= 4 && std::count_if(core.begin(), core.end(), [](char c) {
                              return !detail::is_utf8_continuation(c);
                            }) == 1;
    CHECK_MESSAGE((tokens <= options.chunk_size || one_character), "chunk of ", tokens,
                  " tokens: ", chunk_text);
    if (i > 0) {
      CHECK(chunk.start > chunks[i - 1].start);
      CHECK(chunk.end > chunks[i - 1].end);
      REQUIRE(chunk.start <= previous_end);
      CHECK_FALSE(detail::is_space(text[chunk.start]));
      const std::string_view shared = text.substr(chunk.start, previous_end - chunk.start);
      CHECK(estimator.count(shared) <= options.chunk_overlap);
    }
    if (every_sentence_fits)
      CHECK_MESSAGE(sentence_ends.contains(chunk.end), "chunk ends inside a sentence");
    const std::size_t from = std::max(chunk.start, previous_end);
    rebuilt.append(text.substr(from, chunk.end - from));
    previous_end = chunk.end;
  }
  CHECK(rebuilt == text);
  return chunks;
}

std::string_view slice(std::string_view text, TextSpan span) {
  return text.substr(span.start, span.end - span.start);
}

// Prose with what a splitter meets: headings, abbreviations, numbers, quotes, UTF-8, a list,
// a sentence far longer than a chunk, a long word and a run of CJK characters without spaces.
const std::string built_in_text = [] {
  std::string text =
      "  # Ingestion notes\n"
      "\n"
      "Mr. Smith reads the files at 9 a.m. every day. He splits them into chunks, e.g. of 256 "
      "tokens; then he embeds each one! Does it work? \"Yes.\" The café in Zürich serves "
      "crème brûlée.\n"
      "\n"
      "## A list\n"
      "\n"
      "- first item without a final mark\n"
      "- second item, which wraps\n  onto a second line.\n"
      "\n";
  text += "This sentence is far too long for a small chunk because it goes on";
  for (int i = 0; i < 40; ++i)
    text += " and on";
  text += " until it finally stops. ";
  text += "A long identifier follows: ";
  text += std::string(120, 'x');
  text += ". Then Japanese without spaces: ";
  for (int i = 0; i < 60; ++i)
    text += "東京都";
  text += "。 The end is near... And here it is.\r\n\r\n";
  return text;
}();

// Counts every byte as one token: a multi-byte character alone can exceed a small chunk.
class BytesAsTokens final : public TokenEstimator {
public:
  [[nodiscard]] std::size_t count(std::string_view text) const override { return text.size(); }
};

} // namespace

TEST_SUITE("items") {

  TEST_CASE("an item converts to a Value and back") {
    IngestItem item{.id = "notes/a.md#2",
                    .ref_doc_id = "notes/a.md",
                    .text = "Zwei Sätze.\nMit \"Zitat\".",
                    .metadata = {{"chunk_index", 2}, {"score", 0.5}, {"tags", Value::array({"a"})}},
                    .embedding = {0.1F, -2.5e-8F, 1e30F, 0.0F}};
    const Value value = item.to_value();
    CHECK(value.at("id") == Value("notes/a.md#2"));
    CHECK(value.at("embedding").size() == 4);
    CHECK(must(IngestItem::from_value(value)) == item);
  }

  TEST_CASE("a Value missing optional fields gives empty ones") {
    const IngestItem item =
        must(IngestItem::from_value(Value::object({{"id", "a"}, {"text", "t"}})));
    CHECK(item.ref_doc_id.empty());
    CHECK(item.metadata.empty());
    CHECK(item.embedding.empty());
  }

  TEST_CASE("a bad Value is refused with the field named") {
    const auto refused = [](const Value& value) {
      const auto item = IngestItem::from_value(value);
      REQUIRE_FALSE(item.ok());
      CHECK(item.error().code == Errc::bad_input);
      return item.error().message;
    };
    CHECK(contains(refused(Value(3)), "expected a map, got int64"));
    CHECK(contains(refused(Value::object({{"text", "t"}})), "missing field 'id'"));
    CHECK(contains(refused(Value::object({{"id", "a"}, {"text", 3}})),
                   "field 'text' holds int64 (3), not string"));
    CHECK(contains(refused(Value::object({{"id", "a"}, {"text", "t"}, {"metadata", "m"}})),
                   "field 'metadata' holds string"));
    CHECK(contains(
        refused(Value::object({{"id", "a"}, {"text", "t"}, {"embedding", Value::array({1, "x"})}})),
        "field 'embedding[1]' holds string"));
    CHECK(contains(
        refused(Value::object({{"id", "a"}, {"text", "t"}, {"embedding", Value::array({1e300})}})),
        "does not fit a float"));
  }

  TEST_CASE("the content hash is 128-bit FNV-1a of the text") {
    // Reference values of the FNV authors' FNV-1a 128 (the empty text gives the offset basis).
    CHECK(IngestItem{.text = ""}.content_hash() == "6c62272e07bb014262b821756295c58d");
    CHECK(IngestItem{.text = "a"}.content_hash() == "d228cb696f1a8caf78912b704e4a8964");
    CHECK(IngestItem{.text = "foobar"}.content_hash() == "343e1662793c64bf6f0d3597ba446f18");
    // Only the text counts.
    IngestItem a{.id = "x", .text = "same"};
    IngestItem b{.id = "y", .text = "same", .metadata = {{"k", 1}}, .embedding = {1.0F}};
    CHECK(a.content_hash() == b.content_hash());
    CHECK(a.content_hash() != IngestItem{.text = "Same"}.content_hash());
  }

} // TEST_SUITE("items")

TEST_SUITE("splitter") {

  TEST_CASE("invalid options are refused by make") {
    const auto zero = SentenceSplitter::make({.chunk_size = 0, .chunk_overlap = 0});
    REQUIRE_FALSE(zero.ok());
    CHECK(zero.error().code == Errc::bad_input);
    CHECK(contains(zero.error().message, "chunk_size must be at least 1"));
    const auto overlap = SentenceSplitter::make({.chunk_size = 32, .chunk_overlap = 32});
    REQUIRE_FALSE(overlap.ok());
    CHECK(contains(overlap.error().message,
                   "chunk_overlap (32) must be smaller than chunk_size (32)"));
    CHECK(SentenceSplitter::make({.chunk_size = 1, .chunk_overlap = 0}).ok());
    CHECK(SentenceSplitter::make({}).ok());
  }

  TEST_CASE("blank text has no chunks") {
    const SentenceSplitter splitter = must(SentenceSplitter::make({}));
    CHECK(splitter.split("").empty());
    CHECK(splitter.split(" \n\t\r\n ").empty());
  }

  TEST_CASE("a short text is one chunk covering all of it") {
    const std::string_view text = "\n  Hello there. How are you?  \n";
    const auto chunks = check_split(text, {});
    REQUIRE(chunks.size() == 1);
    CHECK(chunks[0] == TextSpan{0, text.size()});
  }

  TEST_CASE("chunks hold whole sentences and overlap by whole trailing sentences") {
    // Each sentence with its space is 3 tokens: "One", "two", ".".
    const std::string_view text = "One two. Three four. Five six. Seven eight.";
    const auto chunks = check_split(text, {.chunk_size = 6, .chunk_overlap = 3});
    REQUIRE(chunks.size() == 3);
    CHECK(slice(text, chunks[0]) == "One two. Three four. ");
    CHECK(slice(text, chunks[1]) == "Three four. Five six. ");
    CHECK(slice(text, chunks[2]) == "Five six. Seven eight.");
    // No overlap asked: the chunks touch.
    const auto touching = check_split(text, {.chunk_size = 6, .chunk_overlap = 0});
    REQUIRE(touching.size() == 2);
    CHECK(touching[1].start == touching[0].end);
  }

  TEST_CASE("when a sentence is larger than the overlap, trailing words overlap") {
    // Each sentence is 5 tokens (4 words and a period).
    const std::string_view text = "Alpha beta gamma delta. Epsilon zeta eta theta.";
    const auto chunks = check_split(text, {.chunk_size = 8, .chunk_overlap = 2});
    REQUIRE(chunks.size() == 2);
    CHECK(slice(text, chunks[0]) == "Alpha beta gamma delta. ");
    CHECK(slice(text, chunks[1]) == "delta. Epsilon zeta eta theta.");
  }

  TEST_CASE("a sentence longer than a chunk is cut between words") {
    std::string text = "Start";
    for (int i = 0; i < 200; ++i)
      text += " word";
    text += ".";
    const auto chunks = check_split(text, {.chunk_size = 10, .chunk_overlap = 3});
    REQUIRE(chunks.size() > 10);
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
      CHECK(text[chunks[i].end - 1] == ' ');
      CHECK(text[chunks[i].end] == 'w');
    }
  }

  TEST_CASE("a word longer than a chunk is cut between UTF-8 characters") {
    std::string text = "Prefix ";
    for (int i = 0; i < 50; ++i)
      text += "é東😀";
    text += " suffix.";
    check_split(text, {.chunk_size = 7, .chunk_overlap = 2});
    check_split(text, {.chunk_size = 1, .chunk_overlap = 0});
    SUBCASE("with an estimator that prices a character above the chunk size") {
      const BytesAsTokens bytes;
      const auto chunks = check_split(text, {.chunk_size = 3, .chunk_overlap = 1}, bytes);
      // The 4-byte emoji cannot be cut: it is a chunk of its own, over the budget.
      CHECK(std::any_of(chunks.begin(), chunks.end(),
                        [&](const TextSpan& c) { return slice(text, c) == "😀"; }));
    }
  }

  TEST_CASE("the built-in text splits within every guarantee") {
    for (const SplitterOptions options :
         {SplitterOptions{}, SplitterOptions{.chunk_size = 64, .chunk_overlap = 16},
          SplitterOptions{.chunk_size = 20, .chunk_overlap = 10},
          SplitterOptions{.chunk_size = 8, .chunk_overlap = 7},
          SplitterOptions{.chunk_size = 3, .chunk_overlap = 1},
          SplitterOptions{.chunk_size = 1, .chunk_overlap = 0}})
      check_split(built_in_text, options);
    check_split(built_in_text, {.chunk_size = 16, .chunk_overlap = 4}, BytesAsTokens{});
  }

  TEST_CASE("sentences that fit are never cut") {
    const std::string_view text =
        "First sentence here. Second one is a bit longer than that. Third.\n\n"
        "# Heading\nFourth sentence, after a heading. Fifth!";
    const auto chunks = check_split(text, {.chunk_size = 14, .chunk_overlap = 6});
    CHECK(chunks.size() > 2);
  }

  TEST_CASE("the GPL-3 splits within every guarantee") {
    const fs::path path = "/usr/share/common-licenses/GPL-3";
    REQUIRE_MESSAGE(fs::exists(path), path.string()
                                          << " does not exist: install base-files, which ships it");
    const std::string text = read_text(path);
    REQUIRE(text.size() > 10000);
    const auto chunks = check_split(text, {});
    CHECK(chunks.size() > 20);
    check_split(text, {.chunk_size = 40, .chunk_overlap = 12});
    check_split(text, {.chunk_size = 5, .chunk_overlap = 2});
  }

  TEST_CASE("split_document makes chunk items with the document's metadata") {
    const IngestItem doc{.id = "docs/a.md",
                         .text = "One two. Three four. Five six. Seven eight.",
                         .metadata = {{"file_name", "a.md"}, {"chunk_index", "replaced"}}};
    const SentenceSplitter splitter =
        must(SentenceSplitter::make({.chunk_size = 6, .chunk_overlap = 3}));
    const auto chunks = splitter.split_document(doc);
    REQUIRE(chunks.size() == 3);
    const auto spans = splitter.split(doc.text);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      CHECK(chunks[i].id == "docs/a.md#" + std::to_string(i));
      CHECK(chunks[i].ref_doc_id == "docs/a.md");
      CHECK(chunks[i].text == slice(doc.text, spans[i]));
      CHECK(chunks[i].embedding.empty());
      CHECK(chunks[i].metadata.at("file_name") == Value("a.md"));
      CHECK(chunks[i].metadata.at("chunk_index") == Value(static_cast<std::int64_t>(i)));
      CHECK(chunks[i].metadata.at("start") == Value(static_cast<std::int64_t>(spans[i].start)));
      CHECK(chunks[i].metadata.at("end") == Value(static_cast<std::int64_t>(spans[i].end)));
    }
  }

} // TEST_SUITE("splitter")

TEST_SUITE("reader") {

  TEST_CASE(
      "a directory tree reads as sorted documents with metadata, and skips what is not text") {
    TempDir dir;
    const fs::path& root = dir.path();
    write_text(root / "a.txt", "Hello a.");
    write_text(root / "b.md", "# B\n\nText.");
    write_text(root / "LICENSE", "License text.");
    write_text(root / "UPPER.TXT", "Upper case extension.");
    write_text(root / "bom.txt", "\xEF\xBB\xBFWith a byte order mark.");
    write_text(root / "image.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
    write_text(root / "blob.txt", std::string("ab\0cd", 5));
    write_text(root / "latin1.txt", "caf\xe9");
    write_text(root / ".hidden.txt", "Hidden.");
    write_text(root / ".git" / "config", "Hidden directory.");
    write_text(root / "sub" / "c.txt", "Nested.");
    write_text(root / "sub" / "deeper" / "d.md", "Deeper.");
    write_text(root / "sub" / "notes.rst", "Not selected.");

    // A known modification time, to check the ISO-8601 rendering.
    const auto when = std::chrono::sys_days{std::chrono::year{2024} / 5 / 1} +
                      std::chrono::hours{12} + std::chrono::minutes{34} + std::chrono::seconds{56};
    fs::last_write_time(root / "a.txt", std::chrono::file_clock::from_sys(when));

    std::error_code link_error;
    fs::create_symlink(root / "a.txt", root / "alias.txt", link_error);
    fs::create_symlink(root / "nowhere.txt", root / "dangling.txt", link_error);
    fs::create_directory_symlink(root, root / "sub" / "loop", link_error);
    const bool links = !link_error;
    if (!links)
      MESSAGE("symlink cases skipped: ", link_error.message());

    const DirectoryReadResult result = must(read_directory(root.string()));
    std::vector<std::string> ids;
    for (const auto& doc : result.documents)
      ids.push_back(doc.id);
    std::vector<std::string> expected = {"LICENSE", "UPPER.TXT", "a.txt",          "b.md",
                                         "bom.txt", "sub/c.txt", "sub/deeper/d.md"};
    if (links)
      expected.insert(expected.begin() + 3, "alias.txt");
    CHECK(ids == expected);

    const IngestItem& a = result.documents[2];
    REQUIRE(a.id == "a.txt");
    CHECK(a.text == "Hello a.");
    CHECK(a.ref_doc_id.empty());
    CHECK(a.embedding.empty());
    CHECK(a.metadata.at("file_path") ==
          Value((fs::absolute(root) / "a.txt").lexically_normal().string()));
    CHECK(a.metadata.at("file_name") == Value("a.txt"));
    CHECK(a.metadata.at("extension") == Value(".txt"));
    CHECK(a.metadata.at("size_bytes") == Value(8));
    CHECK(a.metadata.at("modified") == Value("2024-05-01T12:34:56Z"));
    const auto by_id = [&result](std::string_view id) {
      return *std::find_if(result.documents.begin(), result.documents.end(),
                           [id](const IngestItem& doc) { return doc.id == id; });
    };
    CHECK(by_id("LICENSE").metadata.at("extension") == Value(""));
    CHECK(by_id("bom.txt").text == "With a byte order mark.");
    CHECK(by_id("sub/deeper/d.md").metadata.at("file_name") == Value("d.md"));

    std::vector<std::string> skipped;
    for (const auto& file : result.skipped)
      skipped.push_back(file.path + ": " + file.reason);
    INFO("skipped: ", doctest::toString(skipped));
    std::vector<std::string> expected_skipped = {"blob.txt: binary: NUL byte at offset 2",
                                                 "latin1.txt: not UTF-8 text: invalid byte 0xe9 at "
                                                 "offset 3"};
    if (links) {
      expected_skipped.insert(expected_skipped.begin() + 1, "dangling.txt: broken symlink");
      expected_skipped.push_back(
          "sub/loop: symlink to a directory, not followed (see follow_directory_symlinks)");
    }
    CHECK(skipped == expected_skipped);

    SUBCASE("followed symlinks to directories end at a loop") {
      if (!links)
        return;
      const auto followed =
          must(read_directory(root.string(), {.follow_directory_symlinks = true}));
      CHECK(followed.documents.size() == result.documents.size());
      REQUIRE_FALSE(followed.skipped.empty());
      CHECK(followed.skipped.back().path == "sub/loop");
      CHECK(contains(followed.skipped.back().reason, "already read as '.'"));
    }
    SUBCASE("without recursion only the top level is read") {
      const auto top = must(read_directory(root.string(), {.recursive = false}));
      CHECK(std::none_of(top.documents.begin(), top.documents.end(),
                         [](const IngestItem& doc) { return contains(doc.id, "/"); }));
      CHECK(top.documents.size() == expected.size() - 2);
    }
    SUBCASE("hidden files are read when asked") {
      const auto all = must(read_directory(root.string(), {.exclude_hidden = false}));
      CHECK(std::any_of(all.documents.begin(), all.documents.end(),
                        [](const IngestItem& doc) { return doc.id == ".hidden.txt"; }));
      CHECK(std::any_of(all.documents.begin(), all.documents.end(),
                        [](const IngestItem& doc) { return doc.id == ".git/config"; }));
    }
    SUBCASE("an empty extension list selects every file") {
      const auto all = must(read_directory(root.string(), {.extensions = {}}));
      CHECK(std::any_of(all.documents.begin(), all.documents.end(),
                        [](const IngestItem& doc) { return doc.id == "sub/notes.rst"; }));
      CHECK(std::any_of(all.skipped.begin(), all.skipped.end(), [](const SkippedFile& file) {
        return file.path == "image.png" && file.reason == "binary: NUL byte at offset 8";
      }));
    }
    SUBCASE("files over max_file_bytes are skipped") {
      const auto small = must(read_directory(root.string(), {.max_file_bytes = 10}));
      CHECK(std::any_of(small.skipped.begin(), small.skipped.end(), [](const SkippedFile& file) {
        return file.path == "UPPER.TXT" &&
               file.reason == "larger than max_file_bytes (21 > 10 bytes)";
      }));
      CHECK(std::any_of(small.documents.begin(), small.documents.end(),
                        [](const IngestItem& doc) { return doc.id == "a.txt"; }));
    }
  }

  TEST_CASE("a missing root or a file as root is an error naming the path") {
    TempDir dir;
    const std::string missing = (dir.path() / "missing").string();
    const auto none = read_directory(missing);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == Errc::bad_input);
    CHECK(none.error().message == "read_directory: '" + missing + "' does not exist");
    write_text(dir.path() / "file.txt", "x");
    const auto file = read_directory((dir.path() / "file.txt").string());
    REQUIRE_FALSE(file.ok());
    CHECK(contains(file.error().message, "is not a directory"));
  }

  TEST_CASE("a name's extension starts with a letter: license names with a version have none") {
    CHECK(file_extension("notes.md") == ".md");
    CHECK(file_extension("UPPER.TXT") == ".TXT");
    CHECK(file_extension("archive.tar.gz") == ".gz");
    CHECK(file_extension("report.2024.md") == ".md");
    for (const char* none : {"LICENSE", "GPL-3", "Apache-2.0", "LGPL-2.1", "MPL-2.0", "CC0-1.0",
                             "v1.2.3", ".bashrc", "trailing.", "file.7z", ""})
      CHECK_MESSAGE(file_extension(none).empty(), none);

    TempDir dir;
    const fs::path& root = dir.path();
    for (const char* name : {"Apache-2.0", "LGPL-2.1", "MPL-2.0", "CC0-1.0", "GPL-3"})
      write_text(root / name, std::string(name) + " license text.");
    write_text(root / "notes.md", "Notes.");
    write_text(root / "archive.tar.gz", "Not really compressed.");
    write_text(root / "data.json", "{}");

    // The default extensions (".txt", ".md", "") select the licenses, as the header promises.
    const DirectoryReadResult read = must(read_directory(root.string()));
    std::vector<std::string> ids;
    for (const auto& doc : read.documents)
      ids.push_back(doc.id);
    CHECK(ids == std::vector<std::string>{"Apache-2.0", "CC0-1.0", "GPL-3", "LGPL-2.1", "MPL-2.0",
                                          "notes.md"});
    CHECK(read.skipped.empty());
    for (const auto& doc : read.documents) {
      CHECK(doc.metadata.at("extension") == Value(file_extension(doc.id)));
      CHECK(doc.text == (doc.id == "notes.md" ? "Notes." : doc.id + " license text."));
    }

    // Listed extensions are compared ignoring case; ".0" is no extension and selects nothing.
    const auto gz = must(read_directory(root.string(), {.extensions = {".GZ", ".0"}}));
    REQUIRE(gz.documents.size() == 1);
    CHECK(gz.documents[0].id == "archive.tar.gz");
    CHECK(gz.documents[0].metadata.at("extension") == Value(".gz"));
  }

} // TEST_SUITE("reader")

TEST_SUITE("vector index") {

  IngestItem embedded(std::string id, std::vector<float> embedding) {
    return IngestItem{.id = std::move(id), .text = "t", .embedding = std::move(embedding)};
  }

  TEST_CASE("a query returns the top k by cosine similarity, ties in insertion order") {
    VectorIndex index;
    REQUIRE(index.add(embedded("x", {1, 0, 0})).ok());
    REQUIRE(index.add(embedded("y", {0, 1, 0})).ok());
    REQUIRE(index.add(embedded("xy", {1, 1, 0})).ok());
    REQUIRE(index.add(embedded("-x", {-1, 0, 0})).ok());
    REQUIRE(index.add(embedded("2x", {2, 0, 0})).ok());
    CHECK(index.size() == 5);
    CHECK(index.dimension() == 3);

    const auto hits = must(index.query({3, 0, 0}, 4));
    REQUIRE(hits.size() == 4);
    CHECK(hits[0].id == "x");
    CHECK(hits[0].score == doctest::Approx(1.0));
    CHECK(hits[1].id == "2x"); // same score as "x", added later
    CHECK(hits[2].id == "xy");
    CHECK(hits[2].score == doctest::Approx(std::sqrt(0.5)));
    CHECK(hits[3].id == "y");
    CHECK(hits[3].score == doctest::Approx(0.0));
    CHECK(index.items()[hits[2].index].id == "xy");

    const auto all = must(index.query({-1, 0, 0}, 100));
    REQUIRE(all.size() == 5);
    CHECK(all[0].id == "-x");
    CHECK(all[4].score == doctest::Approx(-1.0));
    CHECK(must(index.query({1, 0, 0}, 0)).empty());
    CHECK(must(index.query({0, 0, 0}, 1))[0].score == 0.0);
  }

  TEST_CASE("a wrong dimension or a missing embedding is refused") {
    VectorIndex index;
    CHECK(must(index.query({1, 2}, 3)).empty());
    const auto none = index.add(embedded("none", {}));
    REQUIRE_FALSE(none.ok());
    CHECK(contains(none.error().message, "'none' has no embedding"));
    REQUIRE(index.add(embedded("a", {1, 2, 3})).ok());
    const auto wrong = index.add(embedded("b", {1, 2}));
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Errc::bad_input);
    CHECK(wrong.error().message == "VectorIndex::add: item 'b' has dimension 2, the index 3");
    CHECK(index.size() == 1);
    const auto nan = index.add(embedded("nan", {1, std::numeric_limits<float>::quiet_NaN(), 3}));
    REQUIRE_FALSE(nan.ok());
    CHECK(contains(nan.error().message, "embedding[1] is not finite"));
    const auto query = index.query({1, 2}, 1);
    REQUIRE_FALSE(query.ok());
    CHECK(contains(query.error().message, "dimension 2, the index 3"));
  }

} // TEST_SUITE("vector index")

TEST_SUITE("saving") {

  std::vector<IngestItem> sample_items() {
    return {
        IngestItem{.id = "docs/a.md",
                   .text = "# Title\n\nA \"quoted\" line.\tTabs, ünïcödé and 東京.",
                   .metadata = {{"file_name", "a.md"},
                                {"size_bytes", 1234},
                                {"ratio", 0.25},
                                {"flag", true},
                                {"nothing", nullptr},
                                {"nested", Value::object({{"list", Value::array({1, "two"})}})}}},
        IngestItem{.id = "docs/a.md#0",
                   .ref_doc_id = "docs/a.md",
                   .text = "A \"quoted\" line.",
                   .metadata = {{"chunk_index", 0}},
                   .embedding = {0.1F, -2.5e-8F, 1e30F, 0.0F, -1.0F, 3.14159F}},
        IngestItem{.id = "empty", .text = ""},
    };
  }

  TEST_CASE("items round-trip through both formats") {
    TempDir dir;
    const auto items = sample_items();
    for (const ItemFormat format : {ItemFormat::jsonl, ItemFormat::msgpack}) {
      const fs::path path = dir.path() / (format == ItemFormat::jsonl ? "items.jsonl" : "items.mp");
      REQUIRE(save_items(path.string(), items, format).ok());
      CHECK(must(load_items(path.string())) == items);
      REQUIRE(save_items(path.string(), {}, format).ok());
      CHECK(must(load_items(path.string())).empty());
    }
  }

  TEST_CASE("jsonl holds one object per line") {
    TempDir dir;
    const fs::path path = dir.path() / "items.jsonl";
    REQUIRE(save_items(path.string(), sample_items(), ItemFormat::jsonl).ok());
    const std::string text = read_text(path);
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);
    CHECK(text.back() == '\n');
    CHECK(text.starts_with("{\"embedding\":[],\"id\":\"docs/a.md\""));
  }

  TEST_CASE("msgpack keeps binary metadata, jsonl refuses non-finite embeddings") {
    TempDir dir;
    const fs::path path = dir.path() / "items.mp";
    const std::vector<IngestItem> items = {
        IngestItem{.id = "b", .text = "t", .metadata = {{"raw", Binary{{0, 1, 255}}}}}};
    REQUIRE(save_items(path.string(), items, ItemFormat::msgpack).ok());
    CHECK(must(load_items(path.string())) == items);
    const std::vector<IngestItem> nan = {
        IngestItem{.id = "n", .text = "t", .embedding = {std::numeric_limits<float>::infinity()}}};
    const auto refused = save_items((dir.path() / "nan.jsonl").string(), nan, ItemFormat::jsonl);
    REQUIRE_FALSE(refused.ok());
    CHECK(contains(refused.error().message, "item 'n': embedding[0] is not finite"));
  }

  TEST_CASE("msgpack objects written one after another decode one at a time") {
    std::vector<std::uint8_t> bytes;
    for (const Value& value : {Value(1), Value("two"), Value::object({{"k", Value::array({3})}})}) {
      const auto encoded = to_msgpack(value);
      bytes.insert(bytes.end(), encoded.begin(), encoded.end());
    }
    std::size_t offset = 0;
    CHECK(must(from_msgpack_at(bytes, offset)) == Value(1));
    CHECK(offset == 1);
    CHECK(must(from_msgpack_at(bytes, offset)) == Value("two"));
    CHECK(offset == 5);
    CHECK(must(from_msgpack_at(bytes, offset)) == Value::object({{"k", Value::array({3})}}));
    CHECK(offset == bytes.size());
    const auto end = from_msgpack_at(bytes, offset);
    REQUIRE_FALSE(end.ok());
    CHECK(end.error().message == "msgpack: empty input");
    CHECK(offset == bytes.size());

    // An error leaves the offset where it was; limits and messages are from_msgpack's.
    bytes.push_back(0x92); // an array of two, holding one
    bytes.push_back(0x01);
    const auto cut = from_msgpack_at(bytes, offset);
    REQUIRE_FALSE(cut.ok());
    CHECK(cut.error().code == Errc::bad_input);
    CHECK(contains(cut.error().message, "msgpack: truncated"));
    CHECK(offset == bytes.size() - 2);
    // from_msgpack wants the object to end the input.
    CHECK(contains(from_msgpack(std::span(bytes).first(2)).error().message,
                   "trailing 1 byte after offset 1"));
  }

  TEST_CASE("a truncated or corrupt file gives an error with the place") {
    TempDir dir;
    const auto items = sample_items();
    const fs::path jsonl = dir.path() / "items.jsonl";
    const fs::path msgpack = dir.path() / "items.mp";
    REQUIRE(save_items(jsonl.string(), items, ItemFormat::jsonl).ok());
    REQUIRE(save_items(msgpack.string(), items, ItemFormat::msgpack).ok());

    SUBCASE("jsonl cut inside the last line") {
      const std::string text = read_text(jsonl);
      write_text(jsonl, text.substr(0, text.size() - 5));
      const auto loaded = load_items(jsonl.string());
      REQUIRE_FALSE(loaded.ok());
      CHECK(loaded.error().code == Errc::bad_input);
      CHECK(contains(loaded.error().message, "load_items '" + jsonl.string() + "': line 3: "));
    }
    SUBCASE("jsonl with a line that is no item") {
      std::string text = read_text(jsonl);
      text.insert(text.find('\n') + 1, "{\"id\": 7, \"text\": \"x\"}\n");
      write_text(jsonl, text);
      const auto loaded = load_items(jsonl.string());
      REQUIRE_FALSE(loaded.ok());
      CHECK(contains(loaded.error().message, "line 2: IngestItem: field 'id' holds int64 (7)"));
    }
    SUBCASE("msgpack cut inside the last item") {
      const std::string bytes = read_text(msgpack);
      write_text(msgpack, bytes.substr(0, bytes.size() - 5));
      const auto loaded = load_items(msgpack.string());
      REQUIRE_FALSE(loaded.ok());
      CHECK(contains(loaded.error().message,
                     "load_items '" + msgpack.string() + "': item 3 at byte "));
      CHECK(contains(loaded.error().message, "truncated"));
    }
    SUBCASE("msgpack cut inside a string of the first item") {
      const std::string bytes = read_text(msgpack);
      write_text(msgpack, bytes.substr(0, 40));
      const auto loaded = load_items(msgpack.string());
      REQUIRE_FALSE(loaded.ok());
      CHECK(contains(loaded.error().message, "item 1 at byte 0: truncated"));
    }
    SUBCASE("msgpack followed by a byte msgpack never uses") {
      const std::string bytes = read_text(msgpack);
      write_text(msgpack, bytes + "\xc1");
      const auto loaded = load_items(msgpack.string());
      REQUIRE_FALSE(loaded.ok());
      CHECK(contains(loaded.error().message, "item 4 at byte " + std::to_string(bytes.size()) +
                                                 ": invalid msgpack type byte 0xc1"));
    }
    SUBCASE("a missing file") {
      const auto loaded = load_items((dir.path() / "missing.jsonl").string());
      REQUIRE_FALSE(loaded.ok());
      CHECK(contains(loaded.error().message, "missing.jsonl': No such file or directory"));
    }
  }

} // TEST_SUITE("saving")
