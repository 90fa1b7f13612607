// `actorflow demo`: what a user of an LLM pipeline framework does first, on actors.
//
//   1. read a corpus (text files, recursively) as documents;
//   2. ingest it: title, split into sentence-aware chunks, embed (an IngestionPipeline: each
//      transformation a parallel batch node), once with one worker and once with a window;
//   3. summarise every document: a ParallelBatchNode, one item actor per document, once with a
//      window of 1 and once with the window, and compare the wall times of both steps;
//   4. answer a question from the chunks (cosine top 3);
//   5. print a run report of the parallel summaries and, with --trace, a Chrome trace.
//
// Offline by default, on the embedded `local` provider, which is no LLM: summaries are the
// documents' most central sentences, titles their key terms, embeddings hashed n-grams. With
// OPENAI_BASE_URL set it asks that server; with --sim-latency-ms it starts the simulator in
// this process and talks to it over HTTP on 127.0.0.1.

#include "demo.hpp"

#include <actorflow/actorflow.hpp>
#include <actorflow/ingest.hpp>
#include <actorflow/openai.hpp>
#include <actorflow/progress.hpp>
#include <actorflow/report.hpp>

#include "core/text.hpp"
#include "sim/sim.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#ifndef ACTORFLOW_README
#define ACTORFLOW_README ""
#endif

namespace actorflow::tools {

namespace {

namespace fs = std::filesystem;
using Millis = std::chrono::duration<double, std::milli>;

// Enough of a document for a summary: a long licence would cost a real model 10k tokens a call.
constexpr std::size_t summary_prompt_bytes = 12'000;
constexpr std::uint32_t summary_max_tokens = 160;

void fail(const Error& error) { std::cerr << "actorflow demo: " << error.to_string() << "\n"; }

// -- the corpus ---------------------------------------------------------------------------

struct Corpus {
  std::vector<IngestItem> documents;
  std::vector<std::string> sources; // what was read, for the header
  std::vector<SkippedFile> skipped;
};

// Folders and files as documents. With more than one source, a folder's documents are named
// "<folder>/<path inside it>" so that ids stay unique. A source that does not exist is an error.
Result<Corpus> read_corpus(const std::vector<std::string>& paths, std::size_t max_files) {
  Corpus corpus;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      auto read = read_directory(path);
      if (!read)
        return read.error();
      auto prefix = paths.size() > 1 ? fs::path(path).filename().string() + "/" : std::string();
      for (auto& doc : read->documents) {
        doc.id.insert(0, prefix);
        corpus.documents.push_back(std::move(doc));
      }
      corpus.skipped.insert(corpus.skipped.end(), read->skipped.begin(), read->skipped.end());
    } else if (fs::is_regular_file(path, ec)) {
      auto doc = read_text_file(path);
      if (!doc)
        return doc.error();
      corpus.documents.push_back(std::move(*doc));
    } else {
      return Error{Errc::bad_input, "'" + path + "' is neither a folder nor a file"};
    }
    corpus.sources.push_back(path);
  }
  std::sort(corpus.documents.begin(), corpus.documents.end(),
            [](const IngestItem& a, const IngestItem& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < corpus.documents.size(); ++i)
    if (corpus.documents[i].id == corpus.documents[i - 1].id)
      return Error{Errc::bad_input, "two documents named '" + corpus.documents[i].id + "'"};
  if (corpus.documents.size() > max_files)
    corpus.documents.resize(max_files);
  if (corpus.documents.empty())
    return Error{Errc::bad_input, "no text files to read in the corpus"};
  return corpus;
}

// -- summaries ----------------------------------------------------------------------------

// One item actor per document: asks the model for a summary of the document's beginning.
class SummariseDocuments final : public ParallelBatchNode {
public:
  explicit SummariseDocuments(std::size_t window)
      : ParallelBatchNode(BatchOptions{.max_concurrency = window}) {}

  Value prep(const State& state) override { return state.at("texts"); }

  Task<Value> exec(Value text, Context& ctx) override {
    std::string prompt = "Summarize in two or three sentences:\n";
    prompt += text.as_string();
    auto request = ChatRequest::user(std::move(prompt));
    request.max_tokens = summary_max_tokens;
    auto reply = co_await ctx.llm().chat(std::move(request));
    co_return std::move(reply.value().text); // an error fails this document only
  }

  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Array errors(result.items.size());
    for (std::size_t i = 0; i < result.items.size(); ++i)
      if (!result.items[i].ok())
        errors[i] = result.items[i].error().to_string();
    state = state.with({{"summaries", result_values(std::move(result.items))},
                        {"errors", std::move(errors)},
                        {"failed", result.summary.failed}});
    return std::string(default_action);
  }
};

struct SummaryRun {
  RunResult result;
  double wall_ms = 0;
  RunReport report;
};

// `input` holds "texts": the beginning of each document (State copies share it).
Result<SummaryRun> summarise(Runtime& runtime, const State& input, std::size_t window,
                             ProgressBar& progress) {
  auto flow = FlowBuilder("summaries")
                  .node<SummariseDocuments>(
                      window == 1 ? "summarise (sequential)" : "summarise (parallel)", window)
                  // A server's 429 or 5xx is retried, after the wait it asks for.
                  .default_retry(RetryPolicy{.max_attempts = 4})
                  .build();
  if (!flow)
    return flow.error();
  ReportCollector collector;
  auto started = std::chrono::steady_clock::now();
  auto run =
      runtime.run(*flow, input, collector.options(RunOptions{.on_progress = progress.hook()}));
  auto result = run.get();
  const double wall_ms = Millis(std::chrono::steady_clock::now() - started).count();
  progress.finish();
  if (!result)
    return result.error();
  return SummaryRun{*result, wall_ms, collector.report(result)};
}

// -- ingestion ----------------------------------------------------------------------------

Result<PipelineResult> ingest(Runtime& runtime, const Corpus& corpus, std::size_t workers,
                              ProgressBar& progress) {
  PipelineOptions options;
  options.transformations = {std::make_shared<TitleExtractor>(),
                             std::make_shared<SplitterTransform>(SplitterOptions{}),
                             std::make_shared<Embedder>(32)};
  options.num_workers = workers;
  options.on_progress = progress.hook();
  auto result = IngestionPipeline{options}.run(runtime, corpus.documents);
  progress.finish();
  return result;
}

// -- output -------------------------------------------------------------------------------

struct Comparison {
  std::string step;
  double sequential_ms = 0;
  double parallel_ms = 0;
  std::optional<bool> same_output; // none: not comparable (a remote model is not deterministic)

  [[nodiscard]] double speedup() const { return parallel_ms > 0 ? sequential_ms / parallel_ms : 0; }
  [[nodiscard]] Value to_value() const {
    Map out{{"step", step},
            {"sequential_ms", sequential_ms},
            {"parallel_ms", parallel_ms},
            {"speedup", speedup()}};
    if (same_output)
      out.emplace("same_output", *same_output);
    return out;
  }
};

std::string one_line(std::string_view text, std::size_t max_bytes) {
  std::string line{detail::utf8_prefix(detail::trim(text), max_bytes)};
  std::replace_if(
      line.begin(), line.end(), [](char c) { return detail::is_space(c); }, ' ');
  if (line.size() < detail::trim(text).size())
    line += "...";
  return line;
}

// Each document's title, from the first of its chunks (the splitter copies the title the
// extractor gave the whole document).
std::map<std::string, std::string> titles_of(const PipelineResult& ingested) {
  std::map<std::string, std::string> titles;
  for (const auto& item : ingested.items)
    if (auto it = item.metadata.find(std::string_view("document_title"));
        it != item.metadata.end() && it->second.is_string())
      titles.try_emplace(item.ref_doc_id, it->second.as_string());
  return titles;
}

void print_comparison(const std::vector<Comparison>& rows, std::size_t window) {
  std::printf("\nSequential vs parallel, wall time (window %zu; this machine has %u cores)\n",
              window, std::max(1U, std::thread::hardware_concurrency()));
  std::printf("  %-34s %12s %12s %9s  %s\n", "step", "sequential", "parallel", "speed-up",
              "same output");
  for (const auto& row : rows)
    std::printf("  %-34s %9.0f ms %9.0f ms %8.2fx  %s\n", row.step.c_str(), row.sequential_ms,
                row.parallel_ms, row.speedup(),
                !row.same_output ? "-" : (*row.same_output ? "yes" : "NO"));
}

} // namespace

std::vector<std::string> default_corpus() {
  std::vector<std::string> paths{"/usr/share/common-licenses"};
  std::error_code ec;
  if (const std::string readme = ACTORFLOW_README;
      !readme.empty() && fs::is_regular_file(readme, ec))
    paths.push_back(readme);
  return paths;
}

int run_demo(const DemoOptions& options) {
  auto corpus =
      read_corpus(options.paths.empty() ? default_corpus() : options.paths, options.max_files);
  if (!corpus) {
    fail(corpus.error());
    return 1;
  }

  RuntimeConfig config;
  config.worker_threads = options.workers;
  config.trace_file = options.trace;
  std::unique_ptr<SimServer> sim; // declared before the runtime: its calls end first
  std::string provider_note;
  if (options.sim_latency_ms > 0) {
    SimOptions sim_options;
    sim_options.latency_ms = options.sim_latency_ms;
    sim = std::make_unique<SimServer>(std::move(sim_options));
    auto port = sim->start();
    if (!port) {
      fail(port.error());
      return 1;
    }
    OpenAiConfig client;
    client.base_url = "http://127.0.0.1:" + std::to_string(*port) + "/v1";
    client.model = client.embedding_model = "local";
    config.models.add("sim", make_openai_provider(std::move(client)));
    provider_note = "actorflow sim on 127.0.0.1:" + std::to_string(*port) + ", " +
                    std::to_string(options.sim_latency_ms) +
                    " ms a call, answering with the local model over HTTP";
  } else if (auto openai = add_openai_from_env(config.models); !openai) {
    fail(openai.error());
    return 1;
  }
  Runtime runtime{std::move(config)};
  const auto provider = runtime.models().default_name();
  const bool local = provider == "local";
  if (local)
    provider_note = "offline; no LLM: summaries are each text's central sentences, titles its "
                    "key terms, embeddings hashed n-grams";
  else if (provider_note.empty())
    provider_note = "OPENAI_BASE_URL";

  // Progress goes to stderr: a bar on a terminal, a line every few seconds elsewhere.
  ProgressBar progress{stderr};
  const std::size_t window = options.concurrency;

  auto ingested_sequential = ingest(runtime, *corpus, 1, progress);
  auto ingested =
      ingested_sequential ? ingest(runtime, *corpus, window, progress) : ingested_sequential;
  if (!ingested) {
    fail(ingested.error());
    return 1;
  }
  Array texts;
  for (const auto& doc : corpus->documents)
    texts.emplace_back(std::string(detail::utf8_prefix(doc.text, summary_prompt_bytes)));
  const State summary_input = State{}.with("texts", std::move(texts));
  auto summaries_sequential = summarise(runtime, summary_input, 1, progress);
  auto summaries = summaries_sequential ? summarise(runtime, summary_input, window, progress)
                                        : summaries_sequential;
  if (!summaries) {
    fail(summaries.error());
    return 1;
  }
  auto index = PipelineIndex::build(ingested->items);
  auto hits = index ? index->query(runtime, options.query, 3)
                    : Result<std::vector<VectorHit>>(index.error());
  if (!hits) {
    fail(hits.error());
    return 1;
  }

  const auto& state = summaries->result.state;
  const std::vector<Comparison> rows{
      {"ingest: title, split, embed",
       static_cast<double>(ingested_sequential->stats.wall.count()) / 1e3,
       static_cast<double>(ingested->stats.wall.count()) / 1e3,
       local ? std::optional(ingested->items == ingested_sequential->items) : std::nullopt},
      {"summarise " + std::to_string(corpus->documents.size()) + " documents",
       summaries_sequential->wall_ms, summaries->wall_ms,
       local ? std::optional(state.at("summaries") ==
                             summaries_sequential->result.state.at("summaries"))
             : std::nullopt}};
  const auto failed_items =
      ingested->stats.failed.size() + ingested_sequential->stats.failed.size();
  const auto failed_summaries = static_cast<std::size_t>(
      state.at("failed").as_int() + summaries_sequential->result.state.at("failed").as_int());
  bool ok = failed_items == 0 && failed_summaries == 0 && !hits->empty() &&
            std::all_of(rows.begin(), rows.end(),
                        [](const Comparison& row) { return row.same_output.value_or(true); });

  const auto titles = titles_of(*ingested);
  auto title_of = [&titles](const std::string& document) {
    auto it = titles.find(document);
    return it == titles.end() ? std::string() : it->second;
  };
  // The runtime only logs a failed trace write: the file must be there, with --json too.
  std::error_code trace_error;
  const bool trace_missing =
      !options.trace.empty() && !fs::is_regular_file(options.trace, trace_error);
  ok = ok && !trace_missing;
  if (options.json) {
    Array comparison, documents, answers;
    for (const auto& row : rows)
      comparison.push_back(row.to_value());
    for (std::size_t i = 0; i < corpus->documents.size(); ++i) {
      const auto& doc = corpus->documents[i];
      documents.push_back(Map{{"id", doc.id},
                              {"bytes", doc.text.size()},
                              {"title", title_of(doc.id)},
                              {"summary", state.at("summaries").at(i)},
                              {"error", state.at("errors").at(i)}});
    }
    for (const auto& hit : *hits)
      answers.push_back(Map{{"id", hit.id}, {"score", hit.score}});
    Map out{{"provider", provider},
            {"documents", std::move(documents)},
            {"chunks", ingested->items.size()},
            {"window", window},
            {"comparison", std::move(comparison)},
            {"query", Map{{"question", options.query}, {"hits", std::move(answers)}}},
            {"report", summaries->report.to_value()},
            {"ok", ok}};
    if (!options.trace.empty())
      out.emplace("trace", options.trace);
    std::cout << to_json(Value(std::move(out)), 2) << "\n";
    return ok ? 0 : 1;
  }

  std::printf("actorflow demo on provider '%s' (%s)\n", provider.c_str(), provider_note.c_str());
  std::string sources;
  for (const auto& source : corpus->sources)
    (sources += sources.empty() ? "" : ", ") += source;
  std::printf("corpus: %zu documents from %s (%zu files skipped)\n", corpus->documents.size(),
              sources.c_str(), corpus->skipped.size());
  const auto& stats = ingested->stats;
  std::printf("ingested: %zu chunks with titles and embeddings, %llu model calls, %zu failed\n",
              ingested->items.size(), static_cast<unsigned long long>(stats.usage.calls),
              stats.failed.size());
  for (const auto& failure : stats.failed)
    std::printf("  failed: %s\n", failure.error.to_string().c_str());

  print_comparison(rows, window);

  std::printf("\nSummaries (each from the document's first %zu KB)\n", summary_prompt_bytes / 1000);
  for (std::size_t i = 0; i < corpus->documents.size(); ++i) {
    const auto& doc = corpus->documents[i];
    const auto& summary = state.at("summaries").at(i);
    std::printf("  %-28s %7zu B  [%s]\n      %s\n", doc.id.c_str(), doc.text.size(),
                one_line(title_of(doc.id), 60).c_str(),
                summary.is_string() ? one_line(summary.as_string(), 220).c_str()
                                    : state.at("errors").at(i).as_string().c_str());
  }

  std::printf("\nQuestion: %s\n", options.query.c_str());
  for (const auto& hit : *hits)
    std::printf("  %.3f  %-28s %s\n", hit.score, hit.id.c_str(),
                one_line(index->item(hit).text, 150).c_str());

  std::printf("\nRun report: the parallel summaries\n%s", summaries->report.to_text().c_str());
  if (trace_missing) {
    std::printf("\ntrace: %s was not written (see the log above)\n", options.trace.c_str());
    return 1;
  }
  if (!options.trace.empty()) {
    std::printf("\ntrace: %s (open in https://ui.perfetto.dev or chrome://tracing)\n",
                options.trace.c_str());
  }
  if (!ok)
    std::printf("\nnot everything worked: %zu failed chunks, %zu failed summaries%s\n",
                failed_items, failed_summaries,
                hits->empty() ? ", no chunk matched the question" : "");
  return ok ? 0 : 1;
}

} // namespace actorflow::tools
