// The ingestion pipeline: built-in transformations, one ParallelBatchNode per transformation
// in one flow, the cache per batch, and the docstore's skip of unchanged documents.
//
// What travels through the flow's State:
//   "groups": [{"doc": <index of the document in run()'s input>, "items": [item values]}]
//             the current items, grouped by the document they came from, in input order
//   "failed": [{"id", "doc", "transformation", "code", "message"}]
//   "steps":  [{"name", "input_items", "output_items", "batches", "hits", "misses",
//               "failed_items", "wall_us"}], one per transformation that ran
// A batch (one item actor) gets {"doc", "items"} and answers {"outputs", "cached", "failed",
// "cache_error"}.

#include <actorflow/pipeline.hpp>

#include <actorflow/batch.hpp>
#include <actorflow/flow.hpp>
#include <actorflow/runtime.hpp>
#include <actorflow/store.hpp>

#include "core/content_hash.hpp"
#include "core/guard.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace actorflow {

namespace {

using Clock = std::chrono::steady_clock;
using Items = std::vector<IngestItem>;

Error bad_input(std::string message) { return Error{Errc::bad_input, std::move(message)}; }

std::int64_t as_int64(std::size_t n) { return static_cast<std::int64_t>(n); }
std::size_t as_size(const Value& v) { return static_cast<std::size_t>(v.as_int()); }

Array encode(const Items& items) {
  Array out;
  out.reserve(items.size());
  for (const auto& item : items)
    out.push_back(item.to_value());
  return out;
}

// Items from values we wrote (cache entries, flow state); an error names the position.
Result<Items> decode(const Value& values) {
  if (!values.is_array())
    return bad_input("items: expected an array, got " + values.preview());
  Items out;
  out.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto item = IngestItem::from_value(values.at(i));
    if (!item)
      return bad_input("item " + std::to_string(i) + ": " + item.error().message);
    out.push_back(std::move(*item));
  }
  return out;
}

// A hash of every field of every input, in order: what a transformation can read. `items` is
// the batch as it travels (an array of `IngestItem::to_value` maps); its msgpack is
// self-delimiting, so two batches hash alike only if their items are alike.
std::string input_hash(const Value& items) { return detail::content_hash(to_msgpack(items)); }

// Whether `value` holds what `IngestItem::from_value` accepts, checked without copying: a cache
// entry is handed on as it is, and the next step and the final output decode it.
bool is_item_value(const Value& value) {
  if (!value.is_map())
    return false;
  const Value* id = value.find("id");
  const Value* text = value.find("text");
  const Value* ref_doc_id = value.find("ref_doc_id");
  const Value* metadata = value.find("metadata");
  const Value* embedding = value.find("embedding");
  if (!id || !id->is_string() || !text || !text->is_string() ||
      (ref_doc_id && !ref_doc_id->is_string()) || (metadata && !metadata->is_map()) ||
      (embedding && !embedding->is_array()))
    return false;
  if (embedding)
    for (const Value& x : embedding->as_array()) {
      if (!x.is_number())
        return false;
      const double number = x.as_double();
      if (std::isfinite(number) && !std::isfinite(static_cast<float>(number)))
        return false;
    }
  return true;
}

bool is_items_value(const Value& value) {
  return value.is_array() &&
         std::all_of(value.as_array().begin(), value.as_array().end(), is_item_value);
}

} // namespace

// -- built-in transformations -----------------------------------------------------------------

SplitterTransform::SplitterTransform(SplitterOptions options) : options_(options) {}

std::string SplitterTransform::settings() const {
  return to_json(Value::object({{"chunk_size", as_int64(options_.chunk_size)},
                                {"chunk_overlap", as_int64(options_.chunk_overlap)},
                                {"estimator", "default"}}));
}

Result<void> SplitterTransform::check() const {
  auto splitter = SentenceSplitter::make(options_);
  if (!splitter)
    return splitter.error();
  return {};
}

Task<Result<std::vector<IngestItem>>> SplitterTransform::apply(std::vector<IngestItem> items,
                                                               Context&) {
  auto splitter = SentenceSplitter::make(options_);
  if (!splitter)
    co_return splitter.error();
  Items out;
  for (const auto& item : items) {
    auto chunks = splitter->split_document(item);
    std::move(chunks.begin(), chunks.end(), std::back_inserter(out));
  }
  co_return out;
}

namespace {

constexpr std::string_view title_prompt = "Write a short title for this document:\n";

// The document a group of items shows, up to `max_bytes` bytes: the text itself for a
// document; for the splitter's chunks (metadata "start"/"end" in order) the document's text
// rebuilt from them without the overlaps, so the title is the same as before the split;
// otherwise the texts joined by newlines.
std::string document_text(const Items& items, std::size_t max_bytes) {
  bool spans = true;
  for (const auto& item : items) {
    const Value* start = item.metadata.count("start") ? &item.metadata.at("start") : nullptr;
    const Value* end = item.metadata.count("end") ? &item.metadata.at("end") : nullptr;
    spans = spans && start && end && start->is_int() && end->is_int() &&
            end->as_int() - start->as_int() == as_int64(item.text.size());
  }
  std::string text;
  std::int64_t covered = 0; // of the document, by the chunks so far
  for (const auto& item : items) {
    if (text.size() >= max_bytes)
      break;
    if (spans) {
      const auto start = item.metadata.at("start").as_int();
      const auto skip = static_cast<std::size_t>(
          std::clamp<std::int64_t>(covered - start, 0, as_int64(item.text.size())));
      text.append(item.text, skip);
      covered = std::max(covered, item.metadata.at("end").as_int());
    } else {
      text.append(text.empty() ? "" : "\n").append(item.text);
    }
  }
  return std::string(detail::utf8_prefix(text, max_bytes));
}

} // namespace

TitleExtractor::TitleExtractor(TitleOptions options) : options_(std::move(options)) {}

std::string TitleExtractor::settings() const {
  return to_json(Value::object({{"prompt", std::string(title_prompt)},
                                {"max_text_bytes", as_int64(options_.max_text_bytes)},
                                {"max_tokens", as_int64(options_.max_tokens)},
                                {"temperature", 0.0},
                                {"metadata_key", options_.metadata_key}}));
}

Result<void> TitleExtractor::check() const {
  if (options_.max_text_bytes == 0 || options_.max_tokens == 0 || options_.metadata_key.empty())
    return bad_input("title: max_text_bytes, max_tokens and metadata_key must not be 0 or empty");
  return {};
}

Task<Result<std::vector<IngestItem>>> TitleExtractor::apply(std::vector<IngestItem> items,
                                                            Context& ctx) {
  // One title per document, in case a caller hands over items of several.
  std::vector<std::pair<std::string, std::vector<std::size_t>>> documents;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& doc = items[i].ref_doc_id.empty() ? items[i].id : items[i].ref_doc_id;
    if (documents.empty() || documents.back().first != doc)
      documents.emplace_back(doc, std::vector<std::size_t>{});
    documents.back().second.push_back(i);
  }
  const LlmClient llm = options_.provider.empty() ? ctx.llm() : ctx.llm(options_.provider);
  for (const auto& document : documents) {
    const std::string& doc = document.first;
    const std::vector<std::size_t>& members = document.second;
    Items group;
    for (auto i : members)
      group.push_back(items[i]);
    ChatRequest request = ChatRequest::user(std::string(title_prompt) +
                                            document_text(group, options_.max_text_bytes));
    request.max_tokens = options_.max_tokens;
    request.temperature = 0.0;
    auto reply = co_await llm.chat(std::move(request));
    if (!reply)
      co_return Error{reply.error().code, "title of '" + doc + "': " + reply.error().message,
                      reply.error().retry_after};
    std::string_view title = detail::trim(reply->text);
    if (title.size() >= 2 && title.front() == '"' && title.back() == '"')
      title = detail::trim(title.substr(1, title.size() - 2));
    for (auto i : members)
      items[i].metadata.insert_or_assign(options_.metadata_key, std::string(title));
  }
  co_return items;
}

Embedder::Embedder(std::size_t batch_size, std::string provider, std::string model)
    : batch_size_(batch_size), provider_(std::move(provider)), model_(std::move(model)) {}

std::string Embedder::settings() const {
  return to_json(Value::object({{"model", model_}, {"input", "text"}}));
}

Result<void> Embedder::check() const {
  if (batch_size_ == 0)
    return bad_input("embed: batch_size must be at least 1");
  return {};
}

Task<Result<std::vector<IngestItem>>> Embedder::apply(std::vector<IngestItem> items, Context& ctx) {
  EmbedRequest request;
  request.model = model_;
  request.texts.reserve(items.size());
  for (const auto& item : items)
    request.texts.push_back(item.text);
  const LlmClient llm = provider_.empty() ? ctx.llm() : ctx.llm(provider_);
  auto reply = co_await llm.embed(std::move(request));
  if (!reply)
    co_return reply.error();
  if (reply->vectors.size() != items.size())
    co_return Error{Errc::bad_response, "embed: " + std::to_string(items.size()) + " texts gave " +
                                            std::to_string(reply->vectors.size()) + " vectors"};
  for (std::size_t i = 0; i < items.size(); ++i)
    items[i].embedding = std::move(reply->vectors[i]);
  co_return items;
}

// -- one step of the pipeline -----------------------------------------------------------------

namespace {

// What every batch actor of one transformation shares; immutable during the run.
struct Step {
  TransformationPtr transformation;
  std::string name;
  std::string settings; // the transformation's, plus its provider and models when it has one
  std::size_t batch_size = 1;
  std::shared_ptr<IngestCache> cache; // null without a cache; thread-safe

  // The cache key of a batch: `inputs` as it travels, an array of item values.
  [[nodiscard]] std::string key(const Value& inputs) const {
    return IngestCache::key(name, settings, input_hash(inputs));
  }

  // The cached outputs for `key` (an array of item values), as stored; a value that is not a
  // list of items counts as a miss (the put that follows the miss replaces it).
  [[nodiscard]] std::optional<Value> lookup(const std::string& key) const {
    auto value = cache->get(key);
    if (!value || !is_items_value(*value))
      return std::nullopt;
    return value;
  }

  // Whether a failed batch of several items is worth applying again item by item: not for a
  // whole document (its items belong together; a title of one chunk is not the document's),
  // and not for an error that says nothing about the items (a 429, a timeout, a cancel: one
  // call per item would only meet it again). An exception is taken to be about the items.
  [[nodiscard]] bool split_after(const Error& error) const {
    // Errors about the batch's content; not cancelled, deadline_exceeded, budget_exhausted
    // and the like, which each item would meet again.
    const bool about_inputs = error.code == Errc::node_threw || error.code == Errc::bad_input ||
                              error.code == Errc::bad_request || error.code == Errc::internal;
    return batch_size != whole_document && about_inputs;
  }
};

using StepPtr = std::shared_ptr<const Step>;

// [begin, end) of group `group`'s items: one batch.
struct Slice {
  std::size_t group = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
};

std::vector<Slice> slices(const std::vector<std::size_t>& group_sizes, std::size_t batch_size) {
  std::vector<Slice> out;
  for (std::size_t g = 0; g < group_sizes.size(); ++g)
    for (std::size_t begin = 0; begin < group_sizes[g];) {
      const auto end = group_sizes[g] - begin <= batch_size ? group_sizes[g] : begin + batch_size;
      out.push_back({g, begin, end});
      begin = end;
    }
  return out;
}

// Runs `apply` so that neither an error nor an exception escapes: the pipeline needs every
// item's failure as a value, to fail that item alone (the node actor's own guard would fail
// the whole batch). The exception is described by the same function the node actor uses.
// Plain parameter types only: GCC 12 mis-copies closure-typed coroutine parameters.
Task<Result<Items>> apply_guarded(Transformation* transformation, Items items, Context* ctx,
                                  std::string where) {
  std::exception_ptr thrown;
  try {
    co_return co_await transformation->apply(std::move(items), *ctx);
  } catch (...) {
    thrown = std::current_exception();
  }
  co_return detail::error_from_exception(thrown, where);
}

Value failure_value(const IngestItem& item, const Error& error) {
  return Value::object({{"id", item.id},
                        {"code", static_cast<std::int64_t>(error.code)},
                        {"message", "item '" + item.id + "': " + error.message}});
}

/// One transformation over every group: a batch per item actor, `num_workers` in flight.
class TransformNode : public ParallelBatchNode {
public:
  TransformNode(StepPtr step, std::size_t num_workers)
      : ParallelBatchNode(BatchOptions{.max_concurrency = num_workers}), step_(std::move(step)) {}

  Value prep(const State& state) override {
    input_ = state; // shares the State's data: no copy of the corpus
    return Value(as_int64(input_.at("groups").size()));
  }

  ItemSource items(const State&, const Value&) override {
    std::vector<std::size_t> sizes;
    for (const auto& group : input_.at("groups").as_array())
      sizes.push_back(group.at("items").size());
    layout_ = slices(sizes, step_->batch_size);
    auto next = [input = input_, layout = layout_,
                 at = std::size_t{0}]() mutable -> std::optional<Value> {
      if (at == layout.size())
        return std::nullopt;
      const Slice& s = layout[at++];
      const Value& group = input.at("groups").as_array()[s.group];
      const auto& all = group.at("items").as_array();
      Array items(all.begin() + static_cast<std::ptrdiff_t>(s.begin),
                  all.begin() + static_cast<std::ptrdiff_t>(s.end));
      return Value::object({{"doc", group.at("doc")}, {"items", Value(std::move(items))}});
    };
    return ItemSource{std::move(next), layout_.size()};
  }

  Task<Value> exec(Value batch, Context& ctx) override {
    const Step& step = *step_;
    const Value& inputs = batch.at("items");
    // Each input batch is hashed once: the key serves the lookup and the put.
    const std::string key = step.cache ? step.key(inputs) : std::string();
    if (step.cache)
      if (auto hit = step.lookup(key))
        co_return Value::object({{"outputs", std::move(*hit)}, {"cached", true}});

    Items items = decode(inputs).value();
    Array outputs;
    Array failed;
    std::string cache_error;
    // The outputs of `produced` as values, stored under `produced_key` when there is a cache.
    auto store = [&](const std::string& produced_key, const Items& produced) {
      Value encoded(encode(produced));
      if (step.cache)
        if (auto put = step.cache->put(produced_key, encoded); !put && cache_error.empty())
          cache_error = put.error().message;
      return encoded;
    };
    const std::string where = "transformation '" + step.name + "'";
    auto applied = co_await apply_guarded(step.transformation.get(), items, &ctx, where);
    if (applied) {
      Value stored = store(key, *applied);
      outputs = std::move(stored.as_array());
    } else if (items.size() == 1 || !step.split_after(applied.error())) {
      for (const auto& item : items)
        failed.push_back(failure_value(item, applied.error()));
    } else {
      // The batch failed because of its input: once more item by item, so that one bad item
      // fails alone.
      for (std::size_t i = 0; i < items.size(); ++i) {
        const Value one_input(Array{inputs.at(i)});
        const std::string one_key = step.cache ? step.key(one_input) : std::string();
        std::optional<Value> produced;
        if (step.cache)
          produced = step.lookup(one_key);
        if (!produced) {
          Items one{items[i]}; // a local: GCC 12 fails on a braced list inside a co_await
          auto single = co_await apply_guarded(step.transformation.get(), std::move(one), &ctx,
                                               where);
          if (!single) {
            failed.push_back(failure_value(items[i], single.error()));
            continue;
          }
          produced = store(one_key, *single);
        }
        for (auto& v : produced->as_array())
          outputs.push_back(std::move(v));
      }
    }
    co_return Value::object({{"outputs", Value(std::move(outputs))},
                             {"cached", false},
                             {"failed", Value(std::move(failed))},
                             {"cache_error", cache_error}});
  }

  std::string post_batch(State& state, const Value&, BatchResult result) override {
    const auto& groups = input_.at("groups").as_array();
    std::vector<Array> produced(groups.size());
    Array failed = state.at("failed").as_array();
    std::size_t hits = 0, misses = 0, failed_items = 0, inputs = 0, outputs = 0;
    std::set<std::string> cache_errors;
    auto fail = [&](std::size_t group, const Value& failure) {
      Map entry = failure.as_map();
      entry.insert_or_assign("doc", groups[group].at("doc"));
      entry.insert_or_assign("transformation", step_->name);
      failed.emplace_back(std::move(entry));
      ++failed_items;
    };
    for (auto& outcome : result.items) {
      const Slice& s = layout_.at(outcome.index);
      const auto& group_items = groups[s.group].at("items").as_array();
      inputs += s.end - s.begin;
      if (!outcome.ok()) { // the batch's actor failed (not its transformation): all its items
        for (std::size_t i = s.begin; i < s.end; ++i) {
          auto item = IngestItem::from_value(group_items[i]).value();
          fail(s.group, failure_value(item, outcome.error()));
        }
        continue;
      }
      Value& answer = outcome.value();
      if (step_->cache)
        ++(answer.at("cached").as_bool() ? hits : misses);
      auto& items = answer.as_map().at("outputs").as_array();
      outputs += items.size();
      std::move(items.begin(), items.end(), std::back_inserter(produced[s.group]));
      if (const Value* f = answer.find("failed"))
        for (const auto& failure : f->as_array())
          fail(s.group, failure);
      if (const Value* e = answer.find("cache_error"); e && !e->as_string().empty())
        cache_errors.insert(e->as_string());
    }
    Array next;
    for (std::size_t g = 0; g < groups.size(); ++g)
      if (!produced[g].empty())
        next.push_back(Value::object(
            {{"doc", groups[g].at("doc")}, {"items", Value(std::move(produced[g]))}}));
    Array steps = state.at("steps").as_array();
    steps.push_back(Value::object(
        {{"name", step_->name},
         {"input_items", as_int64(inputs)},
         {"output_items", as_int64(outputs)},
         {"batches", as_int64(layout_.size())},
         {"hits", as_int64(hits)},
         {"misses", as_int64(misses)},
         {"failed_items", as_int64(failed_items)},
         {"wall_us", as_int64(static_cast<std::size_t>(result.summary.wall.count()))}}));
    Array warnings = state.at("warnings").as_array();
    for (const auto& e : cache_errors)
      warnings.emplace_back("cache write failed in '" + step_->name + "': " + e);
    state = state.with({{"groups", Value(std::move(next))},
                        {"failed", Value(std::move(failed))},
                        {"steps", Value(std::move(steps))},
                        {"warnings", Value(std::move(warnings))}});
    return std::string(default_action);
  }

private:
  StepPtr step_;
  State input_; // this step's input, from prep (its "groups")
  std::vector<Slice> layout_;           // the batches, from items
};

// What `from_cache` found for one step of one document.
struct CachedStep {
  std::size_t batches = 0;
  std::size_t inputs = 0;
  std::size_t outputs = 0;
};

// The outputs of document `doc` from the cache alone, or nothing if any batch of any step
// misses; `counts[i]` says what step i would have done. Batches are keyed as the flow keys
// them: by the item values as they travel, cached outputs included.
std::optional<Items> from_cache(const std::vector<StepPtr>& steps, const IngestItem& doc,
                                std::vector<CachedStep>& counts) {
  Array current{doc.to_value()};
  counts.assign(steps.size(), CachedStep{});
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& step = *steps[i];
    Array next;
    for (const auto& s : slices({current.size()}, step.batch_size)) {
      const Value inputs(Array(current.begin() + static_cast<std::ptrdiff_t>(s.begin),
                               current.begin() + static_cast<std::ptrdiff_t>(s.end)));
      auto hit = step.lookup(step.key(inputs));
      if (!hit)
        return std::nullopt;
      auto& outputs = hit->as_array();
      std::move(outputs.begin(), outputs.end(), std::back_inserter(next));
      ++counts[i].batches;
    }
    counts[i].inputs = current.size();
    counts[i].outputs = next.size();
    current = std::move(next);
  }
  auto items = decode(Value(std::move(current)));
  if (!items)
    return std::nullopt; // not what lookup let through: run it instead
  return std::move(*items);
}

// Model calls per node, from RunOptions::on_model_call (runtime threads, several at once).
struct CallCounter {
  std::mutex mutex;
  std::map<std::string, std::uint64_t> by_node;
};

} // namespace

// -- IngestionPipeline --------------------------------------------------------------------------

Result<PipelineResult> IngestionPipeline::run(Runtime& runtime,
                                              std::vector<IngestItem> documents) const {
  const auto t0 = Clock::now();
  const auto& options = options_;
  if (options.num_workers == 0 || options.num_workers > std::numeric_limits<std::uint32_t>::max())
    return bad_input("pipeline: num_workers is " + std::to_string(options.num_workers) +
                     " (expected 1 to 4294967295)");

  PipelineResult out;
  auto& stats = out.stats;
  stats.documents = documents.size();

  // -- options, checked before anything is opened ------------------------------------------
  std::vector<std::shared_ptr<Step>> made;
  std::set<std::string> names;
  for (std::size_t i = 0; i < options.transformations.size(); ++i) {
    const auto& t = options.transformations[i];
    const std::string which = "pipeline: transformation " + std::to_string(i);
    if (!t)
      return bad_input(which + " is null");
    auto step = std::make_shared<Step>();
    step->transformation = t;
    step->name = t->name();
    if (step->name.empty() || !names.insert(step->name).second)
      return bad_input(which + ": its name '" + step->name +
                       "' is empty or taken (names key the cache and the stats)");
    if (auto checked = t->check(); !checked)
      return bad_input(which + " ('" + step->name + "'): " + checked.error().message);
    step->batch_size = t->batch_size();
    if (step->batch_size == 0)
      return bad_input(which + " ('" + step->name + "'): batch_size is 0");
    step->settings = t->settings();
    if (auto provider = t->provider()) {
      const std::string name = provider->empty() ? runtime.models().default_name() : *provider;
      auto model = runtime.models().get(name);
      if (!model)
        return bad_input(which + " ('" + step->name + "'): " + model.error().message);
      step->settings += "\nprovider=" + name + "\nchat_model=" + (*model)->default_model() +
                        "\nembedding_model=" + (*model)->default_embedding_model();
    }
    made.push_back(std::move(step));
  }
  {
    std::set<std::string_view> ids;
    for (const auto& doc : documents)
      if (!ids.insert(doc.id).second)
        return bad_input("pipeline: two documents have the id '" + doc.id + "'");
  }

  // -- stores ------------------------------------------------------------------------------
  std::shared_ptr<IngestCache> cache;
  if (!options.cache_path.empty()) {
    auto opened = IngestCache::open(options.cache_path);
    if (opened) {
      if (opened->rebuilt())
        stats.warnings.push_back("cache rebuilt: " + opened->rebuild_report());
      cache = std::make_shared<IngestCache>(std::move(*opened));
    } else {
      stats.warnings.push_back("cache not used: " + opened.error().message);
    }
  }
  std::vector<StepPtr> steps;
  for (auto& step : made) {
    step->cache = cache;
    steps.push_back(std::move(step));
  }

  std::vector<bool> unchanged(documents.size(), false);
  if (!options.docstore_path.empty()) {
    auto store = DocStore::open(options.docstore_path);
    if (!store)
      return store.error();
    if (store->rebuilt())
      stats.warnings.push_back("docstore rebuilt: " + store->rebuild_report());
    std::vector<std::string> ids;
    for (std::size_t d = 0; d < documents.size(); ++d) {
      const auto& doc = documents[d];
      auto change = store->upsert(doc.id, doc.content_hash(), Value(doc.metadata));
      if (!change)
        return change.error();
      switch (*change) {
      case DocStore::Change::added:
        ++stats.changes.added;
        break;
      case DocStore::Change::unchanged:
        ++stats.changes.unchanged;
        unchanged[d] = true;
        break;
      case DocStore::Change::changed:
        ++stats.changes.changed;
        break;
      }
      ids.push_back(doc.id);
    }
    auto removed = store->remove_missing(ids);
    if (!removed)
      return removed.error();
    stats.changes.removed = std::move(*removed);
  }

  stats.steps.resize(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i)
    stats.steps[i].name = steps[i]->name;

  // -- unchanged documents whose every step is cached: no actor needed ---------------------
  std::vector<std::optional<Items>> outputs(documents.size());
  Array groups;
  for (std::size_t d = 0; d < documents.size(); ++d) {
    if (steps.empty()) {
      outputs[d] = Items{documents[d]};
      continue;
    }
    if (unchanged[d] && cache) {
      std::vector<CachedStep> counts;
      if (auto cached = from_cache(steps, documents[d], counts)) {
        ++stats.changes.served_from_cache;
        for (std::size_t i = 0; i < steps.size(); ++i) {
          stats.steps[i].batches += counts[i].batches;
          stats.steps[i].cache_hits += counts[i].batches;
          stats.steps[i].input_items += counts[i].inputs;
          stats.steps[i].output_items += counts[i].outputs;
        }
        outputs[d] = std::move(*cached);
        continue;
      }
    }
    groups.push_back(
        Value::object({{"doc", as_int64(d)}, {"items", Value(Array{documents[d].to_value()})}}));
  }

  // -- the rest through the flow -----------------------------------------------------------
  if (!groups.empty()) {
    FlowBuilder builder("ingest");
    for (std::size_t i = 0; i < steps.size(); ++i) {
      builder.node(steps[i]->name,
                   [step = steps[i], workers = options.num_workers]() -> std::unique_ptr<Node> {
                     return std::make_unique<TransformNode>(step, workers);
                   });
      if (i > 0)
        builder.edge(steps[i - 1]->name, steps[i]->name);
    }
    auto flow = builder.build();
    if (!flow)
      return flow.error();

    auto calls = std::make_shared<CallCounter>();
    RunOptions run_options;
    run_options.on_progress = options.on_progress;
    run_options.on_model_call = [calls](const ModelCallEvent& event) {
      std::lock_guard lock(calls->mutex);
      ++calls->by_node[event.node];
    };
    State initial = State{}.with({{"groups", Value(std::move(groups))},
                                  {"failed", Value(Array{})},
                                  {"steps", Value(Array{})},
                                  {"warnings", Value(Array{})}});
    auto run = runtime.run(*flow, std::move(initial), std::move(run_options)).get();
    if (!run)
      return run.error();
    const State& final_state = run->state;
    stats.usage = run->usage;

    for (const auto& s : final_state.at("steps").as_array()) {
      auto it = std::find_if(stats.steps.begin(), stats.steps.end(),
                             [&](const auto& t) { return t.name == s.at("name").as_string(); });
      it->input_items += as_size(s.at("input_items"));
      it->output_items += as_size(s.at("output_items"));
      it->batches += as_size(s.at("batches"));
      it->cache_hits += as_size(s.at("hits"));
      it->cache_misses += as_size(s.at("misses"));
      it->failed_items += as_size(s.at("failed_items"));
      it->wall = std::chrono::microseconds(s.at("wall_us").as_int());
    }
    {
      std::lock_guard lock(calls->mutex);
      for (auto& step : stats.steps)
        for (const auto& [node, n] : calls->by_node)
          if (node == step.name || node.starts_with(step.name + "/")) // or a node inside it
            step.model_calls += n;
    }
    for (const auto& f : final_state.at("failed").as_array())
      stats.failed.push_back(FailedItem{
          .id = f.at("id").as_string(),
          .document = documents.at(as_size(f.at("doc"))).id,
          .transformation = f.at("transformation").as_string(),
          .error = Error{static_cast<Errc>(f.at("code").as_int()), f.at("message").as_string()}});
    for (const auto& w : final_state.at("warnings").as_array())
      stats.warnings.push_back(w.as_string());
    for (const auto& w : run->warnings) // the flow's own, e.g. an action without an edge
      stats.warnings.push_back(w);
    for (const auto& group : final_state.at("groups").as_array()) {
      auto items = decode(group.at("items"));
      if (!items)
        return Error{Errc::internal, "pipeline: " + items.error().message};
      outputs.at(as_size(group.at("doc"))) = std::move(*items);
    }
  }

  for (auto& items : outputs)
    if (items)
      std::move(items->begin(), items->end(), std::back_inserter(out.items));
  stats.wall = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
  return out;
}

// -- PipelineIndex ------------------------------------------------------------------------------

namespace {

// Embeds the question of the state, through the provider an index was built with.
class EmbedQuestion : public Node {
public:
  EmbedQuestion(std::string provider, std::string model)
      : provider_(std::move(provider)), model_(std::move(model)) {}
  Value prep(const State& state) override { return state.at("question"); }
  Task<Value> exec(Value question, Context& ctx) override {
    EmbedRequest request;
    request.texts.push_back(question.as_string());
    request.model = model_;
    const LlmClient llm = provider_.empty() ? ctx.llm() : ctx.llm(provider_);
    auto reply = co_await llm.embed(std::move(request));
    const auto& vectors = reply.value().vectors; // an error fails the node with its code
    if (vectors.size() != 1)
      throw Failure(Error{Errc::bad_response, "embed: one question gave " +
                                                  std::to_string(vectors.size()) + " vectors"});
    Array numbers(vectors[0].begin(), vectors[0].end());
    co_return Value(std::move(numbers));
  }
  std::string post(State& state, const Value&, const Value& embedding) override {
    state = state.with("embedding", embedding);
    return std::string(default_action);
  }

private:
  std::string provider_;
  std::string model_;
};

} // namespace

Result<PipelineIndex> PipelineIndex::build(std::vector<IngestItem> items, std::string provider,
                                           std::string model) {
  PipelineIndex out;
  out.provider_ = std::move(provider);
  out.model_ = std::move(model);
  for (auto& item : items) {
    std::string id = item.id;
    if (auto added = out.index_.add(std::move(item)); !added)
      return Error{added.error().code, "item '" + id + "': " + added.error().message};
  }
  return out;
}

Result<std::vector<VectorHit>> PipelineIndex::query(Runtime& runtime, std::string_view question,
                                                    std::size_t k) const {
  auto flow = FlowBuilder("query").node<EmbedQuestion>("embed_question", provider_, model_).build();
  if (!flow)
    return flow.error();
  auto run = runtime.run(*flow, State{}.with("question", std::string(question))).get();
  if (!run)
    return run.error();
  std::vector<float> embedding;
  for (const auto& x : run->state.at("embedding").as_array())
    embedding.push_back(static_cast<float>(x.as_double()));
  return index_.query(embedding, k);
}

} // namespace actorflow
