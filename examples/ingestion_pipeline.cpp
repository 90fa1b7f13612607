// Ingest a folder of text files for retrieval with an IngestionPipeline: title, split and embed
// every document (each step a parallel batch node, one actor per batch), run it again to show
// the cache and docstore at work, then print the top 3 chunks for a question.
//
// Offline by default, on the embedded `local` provider, which is no LLM: its "titles" are each
// text's key terms and its embeddings are hashing-trick vectors of words and character
// n-grams. With OPENAI_BASE_URL set (and OPENAI_API_KEY, OPENAI_MODEL, OPENAI_EMBEDDING_MODEL as
// needed) it asks that OpenAI-compatible server instead.
// Run: build/release/examples/ingestion_pipeline [folder] [--concurrency N] [--cache FILE]
//      [--query TEXT] [--trace FILE]   (folder: /usr/share/common-licenses; cache: a temporary
//      file); --help
#include <actorflow/actorflow.hpp>
#include <actorflow/ingest.hpp>

#include "example_support.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

using namespace actorflow;

namespace {

void print(const char* label, const PipelineResult& result) {
  const auto& s = result.stats;
  std::printf("%s: %zu documents -> %zu chunks in %.0f ms, %llu model calls\n", label, s.documents,
              result.items.size(), static_cast<double>(s.wall.count()) / 1e3,
              static_cast<unsigned long long>(s.usage.calls));
  std::printf("  docstore: %zu added, %zu changed, %zu unchanged (%zu from the cache), %zu "
              "removed\n",
              s.changes.added, s.changes.changed, s.changes.unchanged, s.changes.served_from_cache,
              s.changes.removed.size());
  for (const auto& step : s.steps)
    std::printf("  %-6s %5zu -> %5zu items  %4zu batches  cache %4zu hit %4zu miss  %4llu calls"
                "  %7.1f ms\n",
                step.name.c_str(), step.input_items, step.output_items, step.batches,
                step.cache_hits, step.cache_misses,
                static_cast<unsigned long long>(step.model_calls),
                static_cast<double>(step.wall.count()) / 1e3);
  for (const auto& failed : s.failed)
    std::printf("  failed: %s\n", failed.error.to_string().c_str());
  for (const auto& warning : s.warnings)
    std::printf("  warning: %s\n", warning.c_str());
}

// Removes a temporary SQLite file (and its journal files) however main ends.
struct TemporaryFile {
  std::string path;
  ~TemporaryFile() {
    std::error_code ec;
    if (!path.empty())
      for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(path + suffix, ec);
  }
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Title, split and embed a folder of text files, twice, then query the chunks"};
  std::string folder = "/usr/share/common-licenses";
  std::string cache, trace;
  std::string question = "may I give away copies of the program and charge a fee?";
  std::size_t concurrency = 8;
  app.add_option("folder", folder, "The documents")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  app.add_option("--concurrency", concurrency, "Batches of one transformation in flight at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--cache", cache, "SQLite file of the cache and docstore (none: a temporary one)");
  app.add_option("--query", question, "The question to answer from the chunks")
      ->capture_default_str();
  app.add_option("--trace", trace,
                 "Write a Chrome trace of every run (both pipeline runs, the query) here");
  examples::parse_or_exit(app, argc, argv);
  // Without --cache, a fresh file, so that the first run does the work and the second does not.
  TemporaryFile temporary;
  if (cache.empty())
    cache = temporary.path = (std::filesystem::temp_directory_path() /
                              ("actorflow-ingest-example-" + std::to_string(::getpid()) + ".db"))
                                 .string();

  Runtime runtime{examples::runtime_config_or_exit(trace)};
  const bool local = runtime.models().default_name() == "local";
  std::cout << "provider: " << runtime.models().default_name()
            << (local ? " (offline; no LLM: titles are key terms, embeddings hashed n-grams)" : "")
            << "\n";

  // The default extensions (.txt, .md, none) take license names such as "Apache-2.0" too.
  auto read = read_directory(folder);
  if (!read) {
    std::cerr << read.error().to_string() << "\n";
    return 1;
  }
  PipelineOptions options;
  options.transformations = {std::make_shared<TitleExtractor>(),
                             std::make_shared<SplitterTransform>(SplitterOptions{}),
                             std::make_shared<Embedder>(32)};
  options.num_workers = concurrency;
  options.cache_path = cache;
  options.docstore_path = cache; // one SQLite file holds both tables
  const IngestionPipeline pipeline{options};

  auto first = pipeline.run(runtime, read->documents);
  auto second = first ? pipeline.run(runtime, read->documents) : first;
  if (!first || !second) {
    std::cerr << (first ? second : first).error().to_string() << "\n";
    return 1;
  }
  std::printf("%s: %zu documents (%zu files skipped), concurrency %zu, cache %s\n", folder.c_str(),
              read->documents.size(), read->skipped.size(), concurrency, cache.c_str());
  print("run 1", *first);
  print("run 2", *second);

  auto index = PipelineIndex::build(second->items);
  auto hits =
      index ? index->query(runtime, question, 3) : Result<std::vector<VectorHit>>(index.error());
  if (!hits) {
    std::cerr << hits.error().to_string() << "\n";
    return 1;
  }
  std::cout << "top 3 for \"" << question << "\"" << (local ? " (hashing similarity)" : "")
            << ":\n";
  for (const auto& hit : *hits) {
    const auto& item = index->item(hit);
    const std::string text = examples::one_line(item.text, 160);
    std::printf("  %.3f  %s  [%s]\n         %s\n", hit.score, item.id.c_str(),
                item.metadata.at("document_title").as_string().c_str(), text.c_str());
  }
  if (!examples::trace_written(trace))
    return 1;
  const bool cached = second->stats.usage.calls == 0 && second->items == first->items;
  return !first->items.empty() && cached && hits->size() == 3 ? 0 : 1;
}
