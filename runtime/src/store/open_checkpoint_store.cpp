// open_checkpoint_store: a URL of PostgreSQL's opens a database, anything else an SQLite file.
// The choice is by the string alone, so every tool that takes a store (`actorflow runs
// --db`, the examples' --db) takes either.

#include <actorflow/checkpoint.hpp>

#include "store/checkpoint_stores.hpp"
#include "store/postgres.hpp"

namespace actorflow {

Result<CheckpointStorePtr> open_checkpoint_store(const std::string& path) {
  if (detail::postgres::is_postgres_url(path))
    return detail::open_postgres_checkpoint_store(path);
  return detail::open_sqlite_checkpoint_store(path);
}

} // namespace actorflow
