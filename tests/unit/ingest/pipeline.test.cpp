// The ingestion pipeline: the same output for any window, the cache, the docstore's skip of
// unchanged documents, a corrupt cache, a failing item, failing batches, model calls per step,
// and a query.

#include <actorflow/ingest.hpp>
#include <actorflow/runtime.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
namespace fs = std::filesystem;

namespace {

// -- helpers ------------------------------------------------------------------------------

constexpr std::string_view walrus_phrase = "purple walrus juggles seventeen lanterns";

/// A corpus of real text: two licenses from /usr/share/common-licenses (base-files ships them;
/// CI installs it) and two files of our own, one holding a distinctive phrase in its middle.
/// The stores live beside it, outside the corpus.
class Corpus {
public:
  Corpus() {
    fs::create_directories(docs());
    for (const char* name : {"BSD", "Apache-2.0"}) {
      const fs::path license = fs::path("/usr/share/common-licenses") / name;
      std::error_code ec;
      fs::copy_file(license, docs() / name, ec);
      REQUIRE_MESSAGE(!ec, "cannot copy " << license.string() << ": " << ec.message()
                                          << " (install base-files, which ships it)");
    }
    write_text(docs() / "actors.md",
               "# Actors and messages\n\nAn actor owns its state and changes it only when a "
               "message arrives. Actors never share memory. A supervisor restarts an actor "
               "that failed. Messages to one actor are handled one at a time, in order.\n\n"
               "Mailboxes hold the messages that wait. A slow actor lets its mailbox grow, "
               "so a bounded window of work in flight keeps memory flat.\n");
    std::string walrus;
    for (int i = 0; i < 12; ++i)
      walrus += "The harbour keeps its boats in rows, and the tide turns twice a day. ";
    walrus += "\n\nAt the fair a " + std::string(walrus_phrase) + " for the crowd. ";
    walrus += "\n\n";
    for (int i = 0; i < 12; ++i)
      walrus += "Gulls circle the market while the fishermen mend their nets. ";
    write_text(docs() / "walrus.txt", walrus);
  }

  [[nodiscard]] fs::path docs() const { return dir_.path() / "docs"; }
  [[nodiscard]] std::string store(const char* name) const { return (dir_.path() / name).string(); }
  /// Every file of the corpus, read with the reader's default options: the licenses'
  /// names ("BSD", "Apache-2.0") count as having no extension, and so are selected.
  [[nodiscard]] std::vector<IngestItem> read() const {
    const DirectoryReadResult read = must(read_directory(docs().string()));
    CHECK(read.skipped.empty());
    const auto files = std::distance(fs::directory_iterator(docs()), fs::directory_iterator());
    REQUIRE(read.documents.size() == static_cast<std::size_t>(files));
    return read.documents;
  }

private:
  TempDir dir_;
};

/// The local provider, counting the calls that reach it.
class CountingProvider : public ModelProvider {
public:
  [[nodiscard]] std::string_view kind() const noexcept override { return "counting"; }
  [[nodiscard]] std::string default_model() const override { return inner_->default_model(); }
  [[nodiscard]] std::string default_embedding_model() const override {
    return inner_->default_embedding_model();
  }
  void chat(ChatRequest request, ChatDone done) override {
    ++chats;
    inner_->chat(std::move(request), std::move(done));
  }
  void embed(EmbedRequest request, EmbedDone done) override {
    ++embeds;
    inner_->embed(std::move(request), std::move(done));
  }
  [[nodiscard]] int calls() const { return chats + embeds; }

  std::atomic<int> chats{0};
  std::atomic<int> embeds{0};

private:
  ModelProviderPtr inner_ = make_local_provider();
};

/// A Runtime whose default provider is `counter`.
RuntimeConfig counted(const std::shared_ptr<CountingProvider>& counter) {
  RuntimeConfig config;
  config.worker_threads = 2;
  config.models.add("counted", counter);
  return config;
}

constexpr std::size_t embed_batch = 4;

PipelineOptions standard(std::size_t workers, std::string cache = {}, std::string docstore = {}) {
  PipelineOptions options;
  options.transformations = {
      std::make_shared<TitleExtractor>(),
      std::make_shared<SplitterTransform>(SplitterOptions{.chunk_size = 96, .chunk_overlap = 16}),
      std::make_shared<Embedder>(embed_batch)};
  options.num_workers = workers;
  options.cache_path = std::move(cache);
  options.docstore_path = std::move(docstore);
  return options;
}

PipelineResult run(Runtime& runtime, const PipelineOptions& options,
                   std::vector<IngestItem> documents) {
  auto result = must(IngestionPipeline{options}.run(runtime, std::move(documents)));
  for (const auto& failed : result.stats.failed)
    MESSAGE("failed: " << failed.error.to_string());
  return result;
}

const TransformationStats& step(const PipelineResult& result, std::string_view name) {
  for (const auto& s : result.stats.steps)
    if (s.name == name)
      return s;
  FAIL("no step " << name);
  throw std::logic_error("unreachable");
}

std::size_t chunks_of(const PipelineResult& result, std::string_view doc) {
  std::size_t n = 0;
  for (const auto& item : result.items)
    n += item.ref_doc_id == doc ? 1 : 0;
  return n;
}

/// Marks items "seen"; throws on the item with id `bad`.
class Fragile : public Transformation {
public:
  Fragile(std::string bad, std::size_t batch) : bad_(std::move(bad)), batch_(batch) {}
  [[nodiscard]] std::string name() const override { return "fragile"; }
  [[nodiscard]] std::size_t batch_size() const override { return batch_; }
  Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items, Context&) override {
    for (auto& item : items) {
      if (item.id == bad_)
        throw std::runtime_error("cannot handle this text");
      item.metadata["seen"] = true;
    }
    co_return items;
  }

private:
  std::string bad_;
  std::size_t batch_;
};

/// Fails every batch with `code`, counting its calls and the items they held.
class Failing : public Transformation {
public:
  Failing(Errc code, std::size_t batch) : code_(code), batch_(batch) {}
  [[nodiscard]] std::string name() const override { return "failing"; }
  [[nodiscard]] std::size_t batch_size() const override { return batch_; }
  Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items, Context&) override {
    ++calls;
    items_seen += static_cast<int>(items.size());
    co_return Error{code_, "no luck"};
  }

  std::atomic<int> calls{0};
  std::atomic<int> items_seen{0};

private:
  Errc code_;
  std::size_t batch_;
};

/// Documents of `sentences` short sentences each, split into chunks of about two sentences.
std::vector<IngestItem> sentence_documents(int documents, int sentences) {
  std::vector<IngestItem> out;
  for (int d = 0; d < documents; ++d) {
    IngestItem doc;
    doc.id = "doc" + std::to_string(d);
    for (int i = 0; i < sentences; ++i)
      doc.text +=
          "Sentence number " + std::to_string(i) + " of document " + std::to_string(d) + ". ";
    out.push_back(std::move(doc));
  }
  return out;
}

std::shared_ptr<SplitterTransform> small_chunks() {
  return std::make_shared<SplitterTransform>(SplitterOptions{.chunk_size = 16, .chunk_overlap = 0});
}

/// A node that asks the default model for a title of its input.
class AskNode : public Node {
public:
  Task<Value> exec(Value, Context& ctx) override {
    auto reply = co_await ctx.llm().chat("Write a short title for this document:\nA text.");
    co_return Value(reply.value().text);
  }
};

/// Runs a nested flow (node "ask": one model call) per item: its model calls are made by node
/// "nested/ask".
class Nested : public Transformation {
public:
  Nested() : flow_(must(FlowBuilder("inner").node<AskNode>("ask").build())) {}
  [[nodiscard]] std::string name() const override { return "nested"; }
  [[nodiscard]] std::optional<std::string> provider() const override { return ""; }
  Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items,
                                              Context& ctx) override {
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto ran = co_await ctx.run(flow_, State{});
      if (!ran)
        co_return ran.error();
    }
    co_return items;
  }

private:
  Flow flow_;
};

/// Makes no model call; named like the node inside `Nested`.
class Ask : public Transformation {
public:
  [[nodiscard]] std::string name() const override { return "ask"; }
  Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items, Context&) override {
    co_return items;
  }
};

} // namespace

// -- tests --------------------------------------------------------------------------------

TEST_CASE("one worker and eight give the same output, chunks in document order") {
  Corpus corpus;
  Runtime runtime{counted(std::make_shared<CountingProvider>())};
  const auto documents = corpus.read();
  auto one = run(runtime, standard(1), documents);
  auto eight = run(runtime, standard(8), documents);

  REQUIRE(one.stats.failed.empty());
  REQUIRE(one.items.size() > documents.size()); // split into several chunks
  CHECK(one.items == eight.items);
  // Input order, chunks in order: document by document, "#0", "#1", ...
  std::size_t doc = 0, chunk = 0;
  for (const auto& item : one.items) {
    while (doc < documents.size() && item.ref_doc_id != documents[doc].id) {
      ++doc;
      chunk = 0;
    }
    REQUIRE(doc < documents.size());
    CHECK(item.id == documents[doc].id + "#" + std::to_string(chunk++));
    CHECK(item.embedding.size() == local_embedding_dimension);
    CHECK(item.metadata.count("document_title") == 1);
  }
  // The local provider titles a Markdown document by its heading.
  for (const auto& item : one.items)
    if (item.ref_doc_id == "actors.md")
      CHECK(item.metadata.at("document_title").as_string() == "Actors and messages");
  CHECK(step(one, "title").model_calls == documents.size());
  CHECK(step(one, "embed").output_items == one.items.size());
}

TEST_CASE("titles are the same whether the extractor runs before the splitter or after it") {
  Corpus corpus;
  Runtime runtime{counted(std::make_shared<CountingProvider>())};
  const auto documents = corpus.read();
  auto title = std::make_shared<TitleExtractor>();
  auto split =
      std::make_shared<SplitterTransform>(SplitterOptions{.chunk_size = 96, .chunk_overlap = 16});
  PipelineOptions before, after;
  before.transformations = {title, split};
  after.transformations = {split, title};
  auto on_documents = run(runtime, before, documents);
  auto on_chunks = run(runtime, after, documents);
  // After the split, each document's chunks are one batch and its text is rebuilt from them.
  CHECK(step(on_chunks, "title").batches == documents.size());
  CHECK(step(on_chunks, "title").model_calls == documents.size());
  CHECK(on_chunks.items == on_documents.items);
}

TEST_CASE("a second run on the same cache makes no model calls and gives the same output") {
  Corpus corpus;
  auto counter = std::make_shared<CountingProvider>();
  Runtime runtime{counted(counter)};
  const auto documents = corpus.read();
  const auto options = standard(4, corpus.store("cache.db"));

  auto first = run(runtime, options, documents);
  const int first_calls = counter->calls();
  CHECK(first_calls > 0);
  CHECK(first.stats.usage.calls == static_cast<std::uint64_t>(first_calls));
  CHECK(step(first, "embed").cache_misses == step(first, "embed").batches);

  auto second = run(runtime, options, documents);
  CHECK(counter->calls() == first_calls);
  CHECK(second.stats.usage.calls == 0);
  CHECK(second.items == first.items);
  for (const auto& s : second.stats.steps) {
    CHECK(s.cache_misses == 0);
    CHECK(s.cache_hits == s.batches);
  }

  SUBCASE("with a docstore, unchanged documents are skipped and still in the output") {
    auto tracked = standard(4, corpus.store("cache.db"), corpus.store("docs.db"));
    auto added = run(runtime, tracked, documents);
    CHECK(added.stats.changes.added == documents.size());
    CHECK(added.items == first.items);
    auto again = run(runtime, tracked, documents);
    CHECK(again.stats.changes.unchanged == documents.size());
    CHECK(again.stats.changes.served_from_cache == documents.size());
    CHECK(again.items == first.items);
    CHECK(counter->calls() == first_calls);
  }
}

TEST_CASE("changing one file re-runs only that document's work") {
  Corpus corpus;
  auto counter = std::make_shared<CountingProvider>();
  Runtime runtime{counted(counter)};
  const auto options = standard(4, corpus.store("cache.db"), corpus.store("docs.db"));
  auto before = run(runtime, options, corpus.read());

  std::ofstream(corpus.docs() / "walrus.txt", std::ios::app)
      << "\n\nA late ferry brings the last of the lantern oil across the bay.\n";
  fs::remove(corpus.docs() / "actors.md");
  const auto documents = corpus.read();
  const int chats = counter->chats, embeds = counter->embeds;
  auto after = run(runtime, options, documents);

  CHECK(after.stats.changes.changed == 1);
  CHECK(after.stats.changes.unchanged == documents.size() - 1);
  CHECK(after.stats.changes.served_from_cache == documents.size() - 1);
  CHECK(after.stats.changes.removed == std::vector<std::string>{"actors.md"});
  const auto walrus_chunks = chunks_of(after, "walrus.txt");
  CHECK(counter->chats - chats == 1); // its title
  CHECK(counter->embeds - embeds ==
        static_cast<int>((walrus_chunks + embed_batch - 1) / embed_batch));
  CHECK(after.stats.usage.calls == static_cast<std::uint64_t>(counter->calls() - chats - embeds));

  // What came from the cache is what a run without one makes.
  CHECK(after.items == run(runtime, standard(2), documents).items);
  CHECK(chunks_of(after, "actors.md") == 0);
  CHECK(chunks_of(before, "actors.md") > 0);
}

TEST_CASE("a corrupt cache file is set aside and rebuilt, with a report") {
  Corpus corpus;
  auto counter = std::make_shared<CountingProvider>();
  Runtime runtime{counted(counter)};
  const auto documents = corpus.read();
  const auto cache = corpus.store("cache.db");
  write_text(cache, std::string(4096, 'x') + "not a database");

  auto result = run(runtime, standard(4, cache), documents);
  REQUIRE(result.stats.warnings.size() == 1);
  CHECK(contains(result.stats.warnings[0], "cache rebuilt"));
  CHECK(contains(result.stats.warnings[0], cache + ".corrupt"));
  CHECK(result.items == run(runtime, standard(4), documents).items);

  const int calls = counter->calls();
  auto again = run(runtime, standard(4, cache), documents);
  CHECK(again.stats.warnings.empty());
  CHECK(counter->calls() == calls); // the rebuilt cache serves the next run
  CHECK(again.items == result.items);
}

TEST_CASE("a transformation that throws on one item fails that item only") {
  Corpus corpus;
  Runtime runtime{counted(std::make_shared<CountingProvider>())};
  const auto documents = corpus.read();
  std::size_t batch = 1;
  SUBCASE("one item per batch") { batch = 1; }
  SUBCASE("the bad item inside a larger batch") { batch = 3; }

  // Chunks first, so that a batch holds several items of one document.
  PipelineOptions options;
  options.transformations = {
      std::make_shared<SplitterTransform>(SplitterOptions{.chunk_size = 96, .chunk_overlap = 16}),
      std::make_shared<Fragile>("walrus.txt#1", batch), std::make_shared<Embedder>(embed_batch)};
  options.num_workers = 4;
  auto result = must(IngestionPipeline{options}.run(runtime, documents));

  REQUIRE(result.stats.failed.size() == 1);
  const auto& failed = result.stats.failed[0];
  CHECK(failed.id == "walrus.txt#1");
  CHECK(failed.document == "walrus.txt");
  CHECK(failed.transformation == "fragile");
  CHECK(failed.error.code == Errc::node_threw);
  CHECK(contains(failed.error.message, "item 'walrus.txt#1'"));
  CHECK(contains(failed.error.message, "cannot handle this text"));

  CHECK(step(result, "fragile").failed_items == 1);
  CHECK(result.items.size() == step(result, "split").output_items - 1);
  for (const auto& item : result.items) {
    CHECK(item.id != "walrus.txt#1");
    CHECK(item.metadata.count("seen") == 1);
    CHECK_FALSE(item.embedding.empty());
  }
}

TEST_CASE("a query finds the chunk that holds a distinctive phrase first") {
  Corpus corpus;
  Runtime runtime{counted(std::make_shared<CountingProvider>())};
  auto result = run(runtime, standard(4), corpus.read());
  REQUIRE(chunks_of(result, "walrus.txt") > 2); // the phrase is in one chunk of several

  auto index = must(PipelineIndex::build(result.items));
  CHECK(index.index().size() == result.items.size());
  auto hits = must(index.query(runtime, "a walrus juggling lanterns at the fair", 3));
  REQUIRE(hits.size() == 3);
  CHECK(contains(index.item(hits[0]).text, walrus_phrase));
  CHECK(hits[0].score > hits[1].score);
}

TEST_CASE("bad options are reported before anything runs") {
  auto counter = std::make_shared<CountingProvider>();
  Runtime runtime{counted(counter)};
  TempDir dir;
  std::vector<IngestItem> documents(1);
  documents[0].id = "a";
  documents[0].text = "Some text.";
  PipelineOptions options;
  options.cache_path = (dir.path() / "cache.db").string();
  options.docstore_path = (dir.path() / "docs.db").string();
  std::string expected; // the message names the option and its value

  SUBCASE("two transformations of one name") {
    options.transformations = {std::make_shared<Embedder>(), std::make_shared<Embedder>()};
    expected = "pipeline: transformation 1: its name 'embed' is empty or taken";
  }
  SUBCASE("a splitter whose overlap is not below its size") {
    options.transformations = {std::make_shared<SplitterTransform>(
        SplitterOptions{.chunk_size = 10, .chunk_overlap = 10})};
    expected = "pipeline: transformation 0 ('split'): SentenceSplitter: chunk_overlap (10) must "
               "be smaller than chunk_size (10)";
  }
  SUBCASE("a provider that does not exist") {
    options.transformations = {std::make_shared<Embedder>(8, "nowhere")};
    expected = "pipeline: transformation 0 ('embed'): no model provider named 'nowhere' "
               "(configured: ";
  }
  SUBCASE("no window") {
    options.transformations = {std::make_shared<Embedder>()};
    options.num_workers = 0;
    expected = "pipeline: num_workers is 0 (expected 1 to 4294967295)";
  }
  SUBCASE("a title extractor with no room for text") {
    options.transformations = {std::make_shared<TitleExtractor>(TitleOptions{.max_text_bytes = 0})};
    expected = "pipeline: transformation 0 ('title'): title: max_text_bytes, max_tokens and "
               "metadata_key must not be 0 or empty";
  }
  SUBCASE("two documents of one id") {
    options.transformations = {std::make_shared<Embedder>()};
    documents.push_back(documents[0]);
    expected = "pipeline: two documents have the id 'a'";
  }
  auto result = IngestionPipeline{options}.run(runtime, documents);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::bad_input);
  CHECK_MESSAGE(contains(result.error().message, expected), result.error().message);
  CHECK(counter->calls() == 0);
  // Checked before anything is opened: neither store was created.
  CHECK_FALSE(fs::exists(options.cache_path));
  CHECK_FALSE(fs::exists(options.docstore_path));
}

TEST_CASE("a batch that fails with a transient error is not applied again item by item") {
  Runtime runtime{counted(std::make_shared<CountingProvider>())};
  const auto documents = sentence_documents(2, 24);
  constexpr std::size_t batch = 4;
  auto limited = std::make_shared<Failing>(Errc::rate_limited, batch);
  PipelineOptions options;
  options.transformations = {small_chunks(), limited};
  auto result = must(IngestionPipeline{options}.run(runtime, documents)); // failures expected

  const auto& failing = step(result, "failing");
  const std::size_t chunks = step(result, "split").output_items;
  REQUIRE(chunks > 2 * batch * documents.size()); // several batches of several items each
  CHECK(failing.batches < chunks);
  // One call per batch: a 429 says nothing about the items, and splitting would multiply it.
  CHECK(limited->calls == static_cast<int>(failing.batches));
  CHECK(limited->items_seen == static_cast<int>(chunks));
  CHECK(result.items.empty());
  CHECK(failing.failed_items == chunks);
  REQUIRE(result.stats.failed.size() == chunks);
  for (const auto& failed : result.stats.failed) {
    CHECK(failed.error.code == Errc::rate_limited);
    CHECK(contains(failed.error.message, "item '" + failed.id + "': "));
    CHECK(contains(failed.error.message, "no luck"));
  }
}

TEST_CASE("a batch that fails with an error about its input is applied again item by item") {
  Runtime runtime{counted(std::make_shared<CountingProvider>())};
  const auto documents = sentence_documents(2, 24);
  auto refusing = std::make_shared<Failing>(Errc::bad_input, 4);
  PipelineOptions options;
  options.transformations = {small_chunks(), refusing};
  auto result = must(IngestionPipeline{options}.run(runtime, documents)); // failures expected

  const auto& failing = step(result, "failing");
  const std::size_t chunks = step(result, "split").output_items;
  CHECK(failing.failed_items == chunks);
  REQUIRE(result.stats.failed.size() == chunks);
  // Each batch once, then each item of a batch of several alone.
  std::map<std::string, std::size_t> per_document;
  for (const auto& failed : result.stats.failed) {
    CHECK(failed.error.code == Errc::bad_input);
    ++per_document[failed.document];
  }
  std::size_t expected_calls = 0;
  for (const auto& [document, n] : per_document)
    expected_calls += (n + 3) / 4 + n - (n % 4 == 1 ? 1 : 0);
  CHECK(refusing->calls == static_cast<int>(expected_calls));
  CHECK(refusing->calls > static_cast<int>(failing.batches));
}

TEST_CASE("a whole-document batch that fails is not applied again item by item") {
  Runtime runtime{counted(std::make_shared<CountingProvider>())};
  const auto documents = sentence_documents(3, 24);
  auto whole = std::make_shared<Failing>(Errc::bad_input, whole_document);
  PipelineOptions options;
  options.cache_path = ":memory:";
  options.transformations = {small_chunks(), whole};
  auto result = must(IngestionPipeline{options}.run(runtime, documents)); // failures expected

  const std::size_t chunks = step(result, "split").output_items;
  REQUIRE(chunks > documents.size());
  // A document's items belong together (a title of one chunk is not the document's title).
  CHECK(whole->calls == static_cast<int>(documents.size()));
  CHECK(step(result, "failing").batches == documents.size());
  CHECK(step(result, "failing").failed_items == chunks);
  CHECK(result.stats.failed.size() == chunks);
}

TEST_CASE("model calls of a node inside a step count for that step, and only for it") {
  auto counter = std::make_shared<CountingProvider>();
  Runtime runtime{counted(counter)};
  const auto documents = sentence_documents(2, 3);
  PipelineOptions options;
  // "ask" comes first: a step of that name must not take the calls of "nested/ask".
  options.transformations = {std::make_shared<Ask>(), std::make_shared<Nested>()};
  auto result = run(runtime, options, documents);

  REQUIRE(result.stats.failed.empty());
  CHECK(counter->chats == static_cast<int>(documents.size()));
  CHECK(step(result, "nested").model_calls == documents.size());
  CHECK(step(result, "ask").model_calls == 0);
}
