#pragma once
/// actorflow::ingest, the opt-in ingestion library: `#include <actorflow/ingest.hpp>` and link
/// `actorflow::ingest` (pkg-config: actorflow-ingest). Not part of <actorflow/actorflow.hpp>.
///
/// Read documents from a directory, split them into chunks of whole sentences, embed them, keep
/// them in a vector index; an `IngestionPipeline` runs those steps as parallel batches on a
/// Runtime, with a cache of their results and a document store that tells a re-run what
/// changed.

#include <actorflow/ingest/cache.hpp>
#include <actorflow/ingest/docstore.hpp>
#include <actorflow/ingest/item.hpp>
#include <actorflow/ingest/pipeline.hpp>
#include <actorflow/ingest/reader.hpp>
#include <actorflow/ingest/splitter.hpp>
#include <actorflow/ingest/vector_index.hpp>
