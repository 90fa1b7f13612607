#pragma once
// The items table of the PostgreSQL checkpoint store: the store's commit_items and load_items
// (see actorflow/checkpoint.hpp for what each promises), and the run's counters they move.
// Each call takes the connection's mutex for its work.

#include <actorflow/checkpoint.hpp>
#include <actorflow/result.hpp>

#include "store/checkpoint_rows.hpp"
#include "store/postgres.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actorflow::detail::postgres {

class PostgresItems {
public:
  explicit PostgresItems(Connection& conn) noexcept : conn_(conn) {}

  // Prepares the statements; the mutex held.
  Result<void> prepare();

  Result<void> commit(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                      double cost);
  Result<std::unordered_map<std::string, ItemOutcome>> load(std::string_view run_id);
  Result<ItemPage> list(std::string_view run_id, const ItemQuery& query);

private:
  // What a commit moves the run's counters by.
  struct Counts {
    std::int64_t done = 0;
    std::int64_t failed = 0;
    std::int64_t tokens = 0;
  };

  // Each expects the mutex held and a transaction open.
  Result<std::vector<std::size_t>> insert_new(std::string_view run_id,
                                              std::span<const std::size_t> latest,
                                              const std::vector<ItemCheckpoint>& items,
                                              const EncodedOutcomes& encoded, Counts& moved);
  Result<void> replace(std::string_view run_id, const ItemCheckpoint& item,
                       std::span<const std::uint8_t> outcome, Counts& moved);

  static void add(Counts& counts, const ItemOutcome& outcome);

  Connection& conn_;
};

} // namespace actorflow::detail::postgres
