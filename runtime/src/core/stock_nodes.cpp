// The stock node types (actorflow/stock_nodes.hpp).

#include <actorflow/context.hpp>
#include <actorflow/stock_nodes.hpp>

#include <chrono>
#include <map>
#include <string>
#include <utility>

namespace actorflow {

namespace {

// What every stock type shares: items from state["items"], the report of post_batch.
class StockBatch : public ParallelBatchNode {
public:
  using ParallelBatchNode::ParallelBatchNode;

  Value prep(const State& state) override {
    const Value* items = state.find("items");
    if (items == nullptr || !items->is_array())
      throw Failure(Error{Errc::bad_input, "state[\"items\"]: expected an array of items"});
    return *items;
  }

  std::string post_batch(State& state, const Value&, BatchResult result) override {
    Map errors;
    for (const auto& item : result.items)
      if (!item.ok())
        errors.emplace(std::to_string(item.index), item.error().to_string());
    auto ran_on = ran_on_counts(result.items);
    auto failed = result.summary.failed;
    auto requeued = result.summary.requeued;
    state = state.with({{"results", result_values(std::move(result.items))},
                        {"errors", std::move(errors)},
                        {"failed", failed},
                        {"ran_on", std::move(ran_on)},
                        {"requeued", requeued}});
    return std::string(default_action);
  }
};

class Echo final : public StockBatch {
public:
  using StockBatch::StockBatch;
  Task<Value> exec(Value item, Context&) override { co_return item; }
};

class Square final : public StockBatch {
public:
  using StockBatch::StockBatch;
  Task<Value> exec(Value item, Context&) override {
    if (!item.is_int())
      throw Failure(Error{Errc::bad_input, "square: expected an integer item, got " +
                                               std::string(to_string(item.type()))});
    auto x = item.as_int();
    co_return x* x;
  }
};

class Sleep final : public StockBatch {
public:
  using StockBatch::StockBatch;
  Task<Value> exec(Value item, Context& ctx) override {
    const Value* ms = item.is_map() ? item.find("ms") : nullptr;
    if (ms == nullptr || !ms->is_int() || ms->as_int() < 0)
      throw Failure(Error{Errc::bad_input, "sleep: expected {\"ms\": n >= 0, \"value\": v}"});
    co_await ctx.sleep(std::chrono::milliseconds(ms->as_int()));
    const Value* value = item.find("value");
    co_return value != nullptr ? *value : Value{};
  }
};

class Summarise final : public StockBatch {
public:
  using StockBatch::StockBatch;
  Task<Value> exec(Value item, Context& ctx) override {
    if (!item.is_string())
      throw Failure(Error{Errc::bad_input, "summarise: expected a text item"});
    auto reply = co_await ctx.llm().chat(
        ChatRequest::user("Summarise in one sentence:\n\n" + item.as_string()));
    co_return reply.value().text;
  }
};

template <class N>
Result<void> add_type(NodeRegistry& registry, std::string name, BatchOptions options) {
  return registry.add<N>(std::move(name), options);
}

// Every stock type, once: its name and how to register it.
struct StockType {
  const char* name;
  Result<void> (*add)(NodeRegistry&, std::string, BatchOptions);
};
constexpr StockType stock_types[] = {{"echo", &add_type<Echo>},
                                     {"square", &add_type<Square>},
                                     {"sleep", &add_type<Sleep>},
                                     {"summarise", &add_type<Summarise>}};

} // namespace

std::vector<std::string> stock_node_types() {
  std::vector<std::string> names;
  for (const auto& type : stock_types)
    names.emplace_back(type.name);
  return names;
}

Result<void> register_stock_nodes(NodeRegistry& registry, BatchOptions options) {
  for (const auto& type : stock_types)
    if (auto added = type.add(registry, type.name, options); !added)
      return added;
  return {};
}

} // namespace actorflow
