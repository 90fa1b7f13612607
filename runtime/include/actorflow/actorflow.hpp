#pragma once
/// actorflow::runtime's whole public API: `#include <actorflow/actorflow.hpp>`. The opt-in
/// ingestion library has its own: <actorflow/ingest.hpp> (link actorflow::ingest).

#include <actorflow/actor_ref.hpp>
#include <actorflow/agent.hpp>
#include <actorflow/batch.hpp>
#include <actorflow/chat.hpp>
#include <actorflow/checkpoint.hpp>
#include <actorflow/cluster.hpp>
#include <actorflow/context.hpp>
#include <actorflow/events.hpp>
#include <actorflow/flow.hpp>
#include <actorflow/fwd.hpp>
#include <actorflow/graph.hpp>
#include <actorflow/json_schema.hpp>
#include <actorflow/limits.hpp>
#include <actorflow/llm.hpp>
#include <actorflow/local_model.hpp>
#include <actorflow/map.hpp>
#include <actorflow/mcp.hpp>
#include <actorflow/node.hpp>
#include <actorflow/openai.hpp>
#include <actorflow/openai_batch.hpp>
#include <actorflow/prices.hpp>
#include <actorflow/progress.hpp>
#include <actorflow/report.hpp>
#include <actorflow/result.hpp>
#include <actorflow/retry.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/runtime.hpp>
#include <actorflow/state.hpp>
#include <actorflow/stock_nodes.hpp>
#include <actorflow/task.hpp>
#include <actorflow/tokens.hpp>
#include <actorflow/tool.hpp>
#include <actorflow/trace.hpp>
#include <actorflow/value.hpp>
