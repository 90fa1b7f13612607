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

#include <actorflow/batch.hpp>
#include <actorflow/flow.hpp>
#include <actorflow/ingest/docstore.hpp>
#include <actorflow/ingest/pipeline.hpp>
#include <actorflow/runtime.hpp>

#include "ingest/pipeline_step.hpp"

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
using detail::CachedStep;
using detail::Items;
using detail::Step;
using detail::StepPtr;

Error bad_input(std::string message) { return Error{Errc::bad_input, std::move(message)}; }

std::int64_t as_int64(std::size_t n) { return static_cast<std::int64_t>(n); }
std::size_t as_size(const Value& v) { return static_cast<std::size_t>(v.as_int()); }

// Model calls per node, from RunOptions::on_model_call (runtime threads, several at once).
struct CallCounter {
  std::mutex mutex;
  std::map<std::string, std::uint64_t> by_node;
};

} // namespace

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
      if (auto cached = detail::from_cache(steps, documents[d], counts)) {
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
      builder.node(steps[i]->name, detail::transform_node(steps[i], options.num_workers));
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
      auto items = detail::decode_items(group.at("items"));
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

} // namespace actorflow
