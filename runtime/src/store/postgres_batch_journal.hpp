#pragma once
// The batch journal of the PostgreSQL checkpoint store: save_batch_job, find_batch_call and
// forget_batch_calls (see actorflow/checkpoint.hpp), and the rows a deleted run leaves. Each
// public call takes the connection's mutex for its work.

#include <actorflow/checkpoint.hpp>
#include <actorflow/result.hpp>

#include "store/postgres.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::detail::postgres {

class PostgresBatchJournal {
public:
  explicit PostgresBatchJournal(Connection& conn) noexcept : conn_(conn) {}

  // Prepares the statements; the mutex held.
  Result<void> prepare();

  Result<void> save(const BatchJobRecord& job);
  Result<std::optional<BatchJobRecord>> find(std::string_view custom_id);
  Result<void> forget(const std::vector<std::string>& custom_ids);

  // Within the caller's transaction, the mutex held: the calls of `run_id`, then (`sweep`) the
  // jobs no call is left in.
  Result<void> delete_run(std::string_view run_id, std::string_view what);
  Result<void> sweep(std::string_view what);

private:
  Connection& conn_;
};

} // namespace actorflow::detail::postgres
