// One step of the pipeline: its batches, its cache, its node (see ingest/pipeline_step.hpp).

#include "ingest/pipeline_step.hpp"

#include <actorflow/batch.hpp>

#include "core/content_hash.hpp"
#include "core/guard.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace actorflow::detail {

namespace {

Error bad_input(std::string message) { return Error{Errc::bad_input, std::move(message)}; }

std::int64_t as_int64(std::size_t n) { return static_cast<std::int64_t>(n); }

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

    Items items = decode_items(inputs).value();
    Array outputs;
    Array failed;
    std::string cache_error;
    // The outputs of `produced` as values, stored under `produced_key` when there is a cache.
    auto store = [&](const std::string& produced_key, const Items& produced) {
      Value encoded(encode_items(produced));
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
          auto single =
              co_await apply_guarded(step.transformation.get(), std::move(one), &ctx, where);
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
  State input_;               // this step's input, from prep (its "groups")
  std::vector<Slice> layout_; // the batches, from items
};

} // namespace

Array encode_items(const Items& items) {
  Array out;
  out.reserve(items.size());
  for (const auto& item : items)
    out.push_back(item.to_value());
  return out;
}

// Items from values we wrote (cache entries, flow state); an error names the position.
Result<Items> decode_items(const Value& values) {
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

std::string Step::key(const Value& inputs) const {
  return IngestCache::key(name, settings, input_hash(inputs));
}

std::optional<Value> Step::lookup(const std::string& key) const {
  auto value = cache->get(key);
  if (!value || !is_items_value(*value))
    return std::nullopt;
  return value;
}

bool Step::split_after(const Error& error) const {
  // Errors about the batch's content; not cancelled, deadline_exceeded, budget_exhausted and
  // the like, which each item would meet again.
  const bool about_inputs = error.code == Errc::node_threw || error.code == Errc::bad_input ||
                            error.code == Errc::bad_request || error.code == Errc::internal;
  return batch_size != whole_document && about_inputs;
}

NodeFactory transform_node(StepPtr step, std::size_t num_workers) {
  return [step = std::move(step), num_workers]() -> std::unique_ptr<Node> {
    return std::make_unique<TransformNode>(step, num_workers);
  };
}

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
  auto items = decode_items(Value(std::move(current)));
  if (!items)
    return std::nullopt; // not what lookup let through: run it instead
  return std::move(*items);
}

} // namespace actorflow::detail
