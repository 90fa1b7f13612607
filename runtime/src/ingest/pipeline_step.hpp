#pragma once
// One transformation of an ingestion pipeline as a step of its flow: a ParallelBatchNode whose
// items are batches of a document's items, with the step's cache.
//
//
// What travels through the flow's State:
//   "groups": [{"doc": <index of the document in run()'s input>, "items": [item values]}]
//             the current items, grouped by the document they came from, in input order
//   "failed": [{"id", "doc", "transformation", "code", "message"}]
//   "steps":  [{"name", "input_items", "output_items", "batches", "hits", "misses",
//               "failed_items", "wall_us"}], one per transformation that ran
// A batch (one item actor) gets {"doc", "items"} and answers {"outputs", "cached", "failed",

#include <actorflow/ingest/cache.hpp>
#include <actorflow/ingest/pipeline.hpp>
#include <actorflow/node.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorflow::detail {

using Items = std::vector<IngestItem>;

/// Items as values (`IngestItem::to_value`), and back; an error names the position.
[[nodiscard]] Array encode_items(const Items& items);
[[nodiscard]] Result<Items> decode_items(const Value& values);

// What every batch actor of one transformation shares; immutable during the run.
struct Step {
  TransformationPtr transformation;
  std::string name;
  std::string settings; // the transformation's, plus its provider and models when it has one
  std::size_t batch_size = 1;
  std::shared_ptr<IngestCache> cache; // null without a cache; thread-safe

  // The cache key of a batch: `inputs` as it travels, an array of item values.
  [[nodiscard]] std::string key(const Value& inputs) const;

  // The cached outputs for `key` (an array of item values), as stored; a value that is not a
  // list of items counts as a miss (the put that follows the miss replaces it).
  [[nodiscard]] std::optional<Value> lookup(const std::string& key) const;

  // Whether a failed batch of several items is worth applying again item by item: not for a
  // whole document (its items belong together; a title of one chunk is not the document's),
  // and not for an error that says nothing about the items (a 429, a timeout, a cancel: one
  // call per item would only meet it again). An exception is taken to be about the items.
  [[nodiscard]] bool split_after(const Error& error) const;
};

using StepPtr = std::shared_ptr<const Step>;

/// The step's node: every group's items in batches of `step->batch_size`, one item actor per
/// batch, `num_workers` in flight.
[[nodiscard]] NodeFactory transform_node(StepPtr step, std::size_t num_workers);

// What `from_cache` found for one step of one document.
struct CachedStep {
  std::size_t batches = 0;
  std::size_t inputs = 0;
  std::size_t outputs = 0;
};

[[nodiscard]] std::optional<Items> from_cache(const std::vector<StepPtr>& steps,
                                              const IngestItem& doc,
                                              std::vector<CachedStep>& counts);

} // namespace actorflow::detail
