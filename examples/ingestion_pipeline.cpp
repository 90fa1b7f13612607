// Ingest a folder of text files for retrieval with an IngestionPipeline: title, split and embed
// every document (each step a parallel batch node, one actor per batch), run it again to show
// the cache and docstore at work, then print the top 3 chunks for a question.
//
// Offline by default, on the embedded `local` provider, which is no LLM: its "titles" are each
// text's key terms and its embeddings are hashing-trick vectors of words and character
// n-grams. With OPENAI_BASE_URL set (and OPENAI_API_KEY, OPENAI_MODEL, OPENAI_EMBEDDING_MODEL as
// needed) it asks that OpenAI-compatible server instead.
// Run: build/release/examples/ingestion_pipeline [folder] [--workers N] [--cache FILE]
//      [--query TEXT]   (folder: /usr/share/common-licenses; cache: a temporary file)
#include <actorflow/actorflow.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>

using namespace actorflow;

namespace {

void print(const char* label, const PipelineResult& result) {
  const auto& s = result.stats;
  std::printf("%s: %zu documents -> %zu chunks in %.0f ms, %llu model calls\n", label, s.documents,
              result.items.size(), static_cast<double>(s.wall.count()) / 1e3,
              static_cast<unsigned long long>(s.usage.calls));
  std::printf("  docstore: %zu added, %zu changed, %zu unchanged (%zu skipped), %zu removed\n",
              s.changes.added, s.changes.changed, s.changes.unchanged, s.changes.skipped,
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

} // namespace

int main(int argc, char** argv) {
  std::string folder = "/usr/share/common-licenses";
  std::string cache;
  std::string question = "may I give away copies of the program and charge a fee?";
  std::size_t workers = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--workers" || arg == "--cache" || arg == "--query") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--workers")
        workers = std::strtoul(value.c_str(), nullptr, 10);
      else
        (arg == "--cache" ? cache : question) = value;
    } else if (arg.rfind("--", 0) != 0) {
      folder = arg;
    } else {
      std::cerr
          << "usage: ingestion_pipeline [folder] [--workers N] [--cache FILE] [--query TEXT]\n";
      return 2;
    }
  }
  // Without --cache, a fresh file, so that the first run does the work and the second does not.
  const bool temporary = cache.empty();
  if (temporary)
    cache = (std::filesystem::temp_directory_path() /
             ("actorflow-ingest-example-" + std::to_string(::getpid()) + ".db"))
                .string();

  RuntimeConfig config;
  if (std::getenv("OPENAI_BASE_URL")) {
    auto openai = OpenAiConfig::from_env();
    if (!openai) {
      std::cerr << openai.error().to_string() << "\n";
      return 1;
    }
    config.models.add("openai", make_openai_provider(*openai));
  }
  Runtime runtime{std::move(config)};
  const bool local = runtime.models().default_name() == "local";
  std::cout << "provider: " << runtime.models().default_name()
            << (local ? " (offline; no LLM: titles are key terms, embeddings hashed n-grams)" : "")
            << "\n";

  DirectoryReaderOptions every_file;
  every_file.extensions = {}; // license names have no extension, or one like ".0" or ".1"
  auto read = read_directory(folder, every_file);
  if (!read) {
    std::cerr << read.error().to_string() << "\n";
    return 1;
  }
  PipelineOptions options;
  options.transformations = {std::make_shared<TitleExtractor>(),
                             std::make_shared<SplitterTransform>(SplitterOptions{}),
                             std::make_shared<Embedder>(32)};
  options.num_workers = workers;
  options.cache_path = cache;
  options.docstore_path = cache; // one SQLite file holds both tables
  const IngestionPipeline pipeline{options};

  auto first = pipeline.run(runtime, read->documents);
  auto second = first ? pipeline.run(runtime, read->documents) : first;
  if (!first || !second) {
    std::cerr << (first ? second : first).error().to_string() << "\n";
    return 1;
  }
  std::printf("%s: %zu documents (%zu files skipped), window %zu, cache %s\n", folder.c_str(),
              read->documents.size(), read->skipped.size(), workers, cache.c_str());
  print("run 1", *first);
  print("run 2", *second);

  auto index = PipelineIndex::build(second->items);
  auto hits = index ? index->query(runtime, question, 3) : Result<std::vector<Hit>>(index.error());
  if (!hits) {
    std::cerr << hits.error().to_string() << "\n";
    return 1;
  }
  std::cout << "top 3 for \"" << question << "\"" << (local ? " (hashing similarity)" : "")
            << ":\n";
  for (const auto& hit : *hits) {
    const auto& item = index->item(hit);
    std::string text = item.text.substr(0, 160);
    for (auto& c : text)
      c = c == '\n' ? ' ' : c;
    std::printf("  %.3f  %s  [%s]\n         %s...\n", hit.score, item.id.c_str(),
                item.metadata.at("document_title").as_string().c_str(), text.c_str());
  }
  if (temporary)
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(cache + suffix);

  const bool cached = second->stats.usage.calls == 0 && second->items == first->items;
  return !first->items.empty() && cached && hits->size() == 3 ? 0 : 1;
}
