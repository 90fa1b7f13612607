#pragma once
/// Forward declarations of actorflow's public types, for a host's headers that only name them
/// (`#include <actorflow/fwd.hpp>` instead of the header that defines each).

#include <cstdint>
#include <memory>

namespace actorflow {

// -- values and errors (value.hpp, state.hpp, result.hpp) ------------------------------------
class Value;
class State;
struct Error;
enum class Errc : std::uint8_t;
class Failure;
template <class T>
class Result;

// -- flows and nodes (task.hpp, node.hpp, batch.hpp, flow.hpp, context.hpp) -------------------
template <class T>
class Task;
class Node;
class NodeRegistry;
class ParallelBatchNode;
class BatchNode;
struct BatchOptions;
class FailurePolicy;
struct ItemSource;
struct ItemOutcome;
struct BatchResult;
class Flow;
class FlowBuilder;
class Context;
struct RetryPolicy;
struct CircuitPolicy;

// -- model calls (llm.hpp, limits.hpp, tokens.hpp) --------------------------------------------
struct ChatRequest;
struct ChatResponse;
struct EmbedRequest;
struct Embeddings;
struct Usage;
class ModelProvider;
using ModelProviderPtr = std::shared_ptr<ModelProvider>;
class ModelRegistry;
class LlmClient;
struct Limits;
struct LimitStats;
class TokenEstimator;

// -- running (runtime.hpp, run_result.hpp, events.hpp, cluster.hpp, checkpoint.hpp) -----------
class Runtime;
struct RuntimeConfig;
struct RunOptions;
class RunHandle;
struct RunResult;
struct RunUsage;
struct AttemptEvent;
struct BatchProgress;
struct ModelCallEvent;
struct SpanEvent;
class TraceWriter;
class ActorRef;
struct ClusterConfig;
struct ServeOptions;
class CheckpointStore;
using CheckpointStorePtr = std::shared_ptr<CheckpointStore>;

} // namespace actorflow
