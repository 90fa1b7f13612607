#pragma once
/// Node types every `actorflow node` knows, so that flows can send items to nodes without a
/// plugin: register the same names in your Runtime and add them with
/// `FlowBuilder::registered_node(name, type)` (see actorflow/cluster.hpp).
///
/// Each is a ParallelBatchNode over `state["items"]` (an array). Its post writes:
/// - "results": each item's value, in input order (null for a failed item);
/// - "errors":  {"<index>": "code: message"} for the failed items;
/// - "failed":  how many failed;
/// - "ran_on":  how many items ran where (`ran_on_counts`: "local" for this Runtime);
/// - "requeued": launches started again because their node died.
///
/// The types (exec of one item):
/// - "echo":      the item itself.
/// - "square":    an integer item squared; any other item fails with bad_input.
/// - "sleep":     {"ms": n, "value": v} waits n ms (a timer: no thread is held) and gives v.
/// - "summarise": a text item's summary by the default model provider (`ctx.llm()`).

#include <actorflow/batch.hpp>
#include <actorflow/node.hpp>
#include <actorflow/result.hpp>

#include <string>
#include <vector>

namespace actorflow {

/// The names above, in that order.
[[nodiscard]] std::vector<std::string> stock_node_types();

/// Registers every stock type in `registry` with `options` (its window, failure policy).
/// An error names a type already registered.
Result<void> register_stock_nodes(NodeRegistry& registry, BatchOptions options = {});

} // namespace actorflow
