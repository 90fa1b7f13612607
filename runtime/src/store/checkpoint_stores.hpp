#pragma once
// The checkpoint stores open_checkpoint_store chooses between (actorflow/checkpoint.hpp says
// what each promises): one function per store, each defined with its store.

#include <actorflow/checkpoint.hpp>

#include <string>

namespace actorflow::detail {

// The SQLite file at `path` (":memory:": a private store).
[[nodiscard]] Result<CheckpointStorePtr> open_sqlite_checkpoint_store(const std::string& path);

// The PostgreSQL database at `url` ("postgresql://..." or "postgres://...").
[[nodiscard]] Result<CheckpointStorePtr> open_postgres_checkpoint_store(const std::string& url);

} // namespace actorflow::detail
