#pragma once
/// An ingestion pipeline on actors (LlamaIndex's IngestionPipeline): documents go through a
/// list of transformations (split, extract metadata, embed), each a parallel batch node of one
/// flow, with a cache of transformation results and a document store that tells a re-run what
/// changed.
///
/// ```cpp
/// PipelineOptions options;
/// options.transformations = {std::make_shared<TitleExtractor>(),
///                            std::make_shared<SplitterTransform>(SplitterOptions{}),
///                            std::make_shared<Embedder>(32)};
/// options.num_workers = 8;
/// options.cache_path = "ingest.db";
/// auto result = IngestionPipeline{options}.run(runtime, read_directory("docs")->documents);
/// auto index = PipelineIndex::build(result->items);
/// auto hits = index->query(runtime, "how do I cancel a run?", 3);
/// ```

#include <actorflow/batch.hpp>
#include <actorflow/context.hpp>
#include <actorflow/events.hpp>
#include <actorflow/ingest/item.hpp>
#include <actorflow/ingest/splitter.hpp>
#include <actorflow/ingest/vector_index.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/task.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

class Runtime;

// -- transformations ------------------------------------------------------------------------

/// `Transformation::batch_size` for "all items of one document in one call".
inline constexpr std::size_t whole_document = std::numeric_limits<std::size_t>::max();

/// One step of a pipeline: a batch of input items in, output items out. A splitter makes many
/// chunks of one document, an extractor returns its items with metadata added, an embedder
/// fills the embeddings of a batch.
///
/// Batches never span documents: the pipeline groups the items by the document they came
/// from (whatever their ids say) and cuts each group into batches of `batch_size`, so that a
/// changed document changes the cache keys of its own batches only. The outputs of a batch
/// belong to the batch's document.
///
/// Thread-safety: one instance serves every batch of every run that uses it, and `apply` runs
/// in several actors at once (up to the pipeline's `num_workers`). Keep it immutable, or
/// synchronise what it changes. `apply` may throw: the pipeline turns that into the failure
/// of that batch's items.
class Transformation {
public:
  virtual ~Transformation() = default;

  /// Names the step in stats, errors and cache keys; unique within a pipeline.
  [[nodiscard]] virtual std::string name() const = 0;
  /// Everything besides the inputs that changes the outputs, rendered canonically (e.g.
  /// `to_json` of a map): it goes into the cache key with the name. Default: "".
  [[nodiscard]] virtual std::string settings() const { return {}; }
  /// Items per `apply` call, at least 1 (or `whole_document`). Default: 1.
  [[nodiscard]] virtual std::size_t batch_size() const { return 1; }
  /// The model provider `apply` calls, "" for the Runtime's default; none (the default) when it
  /// calls no model. The pipeline checks the provider exists and puts its name and default
  /// models into the cache key, so another provider or model misses the cache.
  [[nodiscard]] virtual std::optional<std::string> provider() const { return std::nullopt; }
  /// Whether the options make sense; called once per run before anything is read or written.
  /// Default: fine.
  [[nodiscard]] virtual Result<void> check() const { return {}; }

  /// Transforms one batch. An error (or exception) fails the batch's items. A batch of several
  /// items (not a `whole_document` one) that fails with an error its content may have caused (an
  /// exception, bad_input, bad_request, internal) is then applied again item by item, so that
  /// one bad item fails alone. Any other error (rate_limited, timeout, server_error, cancelled,
  /// budget_exhausted, ...) says nothing about the items: they all fail with it, with no more
  /// calls.
  [[nodiscard]] virtual Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items,
                                                                    Context& ctx) = 0;
};

using TransformationPtr = std::shared_ptr<Transformation>;

/// Documents to chunks with a `SentenceSplitter` (`split_document`: ids "<doc>#<i>",
/// ref_doc_id, metadata copied plus chunk_index/start/end). One document per call.
class SplitterTransform : public Transformation {
public:
  explicit SplitterTransform(SplitterOptions options = {});
  [[nodiscard]] std::string name() const override { return "split"; }
  [[nodiscard]] std::string settings() const override;
  [[nodiscard]] Result<void> check() const override;
  [[nodiscard]] Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items,
                                                            Context& ctx) override;

private:
  SplitterOptions options_;
};

struct TitleOptions {
  /// The most bytes of the document's text put into the prompt (cut at a UTF-8 boundary).
  std::size_t max_text_bytes = 4000;
  std::uint32_t max_tokens = 32;
  /// "" for the Runtime's default provider.
  std::string provider{};
  std::string metadata_key = "document_title";
};

/// Asks the model for a title per document and writes it to the metadata of every item of
/// that document (key "document_title"). One call per document.
///
/// Put it before the splitter: then it sees the document's own text (its first
/// `max_text_bytes` bytes) and the chunks inherit the title through the metadata the splitter
/// copies. It also works on chunks: the whole document's chunks arrive in one batch
/// (`whole_document`), and the prompt holds the document's text rebuilt from them (the
/// splitter's "start"/"end" metadata drop the overlaps), so the title is the one the whole
/// document gets; chunks without those offsets are joined by newlines.
///
/// The prompt is "Write a short title for this document:\n<text>". The local provider answers
/// it with the text's key terms (`extract_title`), not with a model's title.
class TitleExtractor : public Transformation {
public:
  explicit TitleExtractor(TitleOptions options = {});
  [[nodiscard]] std::string name() const override { return "title"; }
  [[nodiscard]] std::string settings() const override;
  [[nodiscard]] std::size_t batch_size() const override { return whole_document; }
  [[nodiscard]] std::optional<std::string> provider() const override { return options_.provider; }
  [[nodiscard]] Result<void> check() const override;
  [[nodiscard]] Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items,
                                                            Context& ctx) override;

private:
  TitleOptions options_;
};

/// Fills `IngestItem::embedding` with one `ctx.llm().embed(texts)` call per batch of
/// `batch_size` items (of one document). Embeds the text only, not the metadata.
class Embedder : public Transformation {
public:
  /// `provider` "" for the Runtime's default; `model` "" for its default embedding model.
  explicit Embedder(std::size_t batch_size = 32, std::string provider = {}, std::string model = {});
  [[nodiscard]] std::string name() const override { return "embed"; }
  [[nodiscard]] std::string settings() const override;
  [[nodiscard]] std::size_t batch_size() const override { return batch_size_; }
  [[nodiscard]] std::optional<std::string> provider() const override { return provider_; }
  [[nodiscard]] Result<void> check() const override;
  [[nodiscard]] Task<Result<std::vector<IngestItem>>> apply(std::vector<IngestItem> items,
                                                            Context& ctx) override;

private:
  std::size_t batch_size_;
  std::string provider_;
  std::string model_;
};

// -- the pipeline ---------------------------------------------------------------------------

struct PipelineOptions {
  /// Applied in order; the outputs of one are the inputs of the next.
  std::vector<TransformationPtr> transformations{};
  /// Batches of one transformation in flight at once (the fan-out window); 1 runs them one
  /// after another. The output does not depend on it.
  std::size_t num_workers = 4;
  /// An `IngestCache` file; "" for none. Consulted per batch with the key
  /// `IngestCache::key(name, settings (+ provider and models), hash of the inputs)`, where the
  /// hash covers every field of every input item (id, ref_doc_id, text, metadata, embedding):
  /// a hit can never hand back outputs that are stale in any field. A corrupt file is rebuilt
  /// (see `PipelineStats::warnings`); a cache that cannot be opened is done without.
  std::string cache_path{};
  /// A `DocStore` file (may be the cache's file); "" for none. Each run records every
  /// document's content hash, reports what was added, unchanged, changed, and removes (and
  /// reports) the documents it was not given. An unchanged document whose every step is in the
  /// cache is served from the cache (`DocumentChanges::served_from_cache`): no actor sees it,
  /// and the output stays complete. One that is unchanged but not (fully) cached runs like any
  /// other.
  std::string docstore_path{};
  /// Progress of each transformation's batch node (node name = transformation name), as
  /// `RunOptions::on_progress`: called from runtime threads, keep it quick and thread-safe.
  std::function<void(const BatchProgress&)> on_progress{};
};

/// What one transformation did in a run.
struct TransformationStats {
  std::string name{};
  std::size_t input_items = 0;
  std::size_t output_items = 0;
  std::size_t batches = 0;      ///< including those of documents served from the cache
  std::size_t cache_hits = 0;   ///< batches served from the cache (0 without a cache)
  std::size_t cache_misses = 0; ///< batches applied (0 without a cache)
  std::size_t failed_items = 0;
  std::uint64_t model_calls = 0;     ///< calls its batches made (ended, successful or not)
  std::chrono::microseconds wall{0}; ///< its batch node, from first batch to last
};

/// What the docstore said; all zero without one.
struct DocumentChanges {
  std::size_t added = 0;
  std::size_t unchanged = 0;
  std::size_t changed = 0;
  std::vector<std::string> removed{}; ///< sorted
  /// Unchanged documents served from the cache entirely: no actor saw them.
  std::size_t served_from_cache = 0;
};

/// An item that a transformation could not transform; it and what would have come of it are
/// missing from the output.
struct FailedItem {
  std::string id{};       ///< the item's id as the transformation got it
  std::string document{}; ///< the id of the document it came from
  std::string transformation{};
  Error error{}; ///< its message starts with "item '<id>': "
};

struct PipelineStats {
  std::size_t documents = 0;
  DocumentChanges changes{};
  std::vector<TransformationStats> steps{}; ///< in pipeline order
  RunUsage usage{};                         ///< every model call of the run
  std::vector<FailedItem> failed{};         ///< step by step, in input order within a step
  /// Did not fail the run but deserve a look: a rebuilt (corrupt) cache or docstore, a cache
  /// that could not be opened or written, and the flow's own (`RunResult::warnings`).
  std::vector<std::string> warnings{};
  std::chrono::microseconds wall{0};
};

struct PipelineResult {
  /// The last transformation's outputs: per document in input order, and within one in the
  /// order the transformations produced them. The same for any `num_workers`.
  std::vector<IngestItem> items{};
  PipelineStats stats{};
};

/// Runs documents through transformations, each transformation a `ParallelBatchNode` of one
/// flow (one actor per batch, `num_workers` at once) on the Runtime given to `run`.
///
/// A run: check the options; open the stores; record every document in the docstore; take
/// the outputs of unchanged, fully cached documents from the cache; run the rest through the
/// flow, where each batch actor looks its batch up in the cache, applies the transformation on
/// a miss and stores the outputs (the SQLite calls happen in the batch actors: short, and
/// serialised per connection); put the outputs together in input order.
///
/// `run` blocks until the flow ends (never call it from inside a node). It is const and may
/// be called from several threads at once: each run opens its own cache and docstore
/// connections (SQLite serialises the writes).
class IngestionPipeline {
public:
  explicit IngestionPipeline(PipelineOptions options) : options_(std::move(options)) {}

  /// The output items and stats. Failed items do not fail the run (see `PipelineStats::
  /// failed`). Errors: bad_input for bad options (no transformation may be null, names must be
  /// unique, batch sizes and `num_workers` at least 1, a named provider must exist, `check`
  /// must pass), for duplicate document ids, or a docstore that cannot be opened or written;
  /// the run's own error if the flow fails (e.g. the runtime shut down).
  [[nodiscard]] Result<PipelineResult> run(Runtime& runtime,
                                           std::vector<IngestItem> documents) const;

  [[nodiscard]] const PipelineOptions& options() const noexcept { return options_; }

private:
  PipelineOptions options_;
};

// -- querying the output --------------------------------------------------------------------

/// A `VectorIndex` of a pipeline's output and the provider that embedded it, so that
/// questions are embedded the same way. Not synchronised: concurrent `query` calls are safe.
class PipelineIndex {
public:
  /// An index of `items` (all must have embeddings of one dimension, as `VectorIndex::add`
  /// demands; errors name the item). `provider`: the one that embedded them ("" for the
  /// Runtime's default).
  [[nodiscard]] static Result<PipelineIndex>
  build(std::vector<IngestItem> items, std::string provider = {}, std::string model = {});

  /// The `k` items most similar to `question`, best first. The question is embedded by a
  /// one-node flow on `runtime` (so it goes through the runtime's limits); blocks until then.
  [[nodiscard]] Result<std::vector<VectorHit>> query(Runtime& runtime, std::string_view question,
                                                     std::size_t k) const;

  [[nodiscard]] const VectorIndex& index() const noexcept { return index_; }
  /// The item a hit refers to.
  [[nodiscard]] const IngestItem& item(const VectorHit& hit) const {
    return index_.items().at(hit.index);
  }

private:
  VectorIndex index_;
  std::string provider_;
  std::string model_;
};

} // namespace actorflow
