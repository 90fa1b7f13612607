#pragma once
// The items table of the SQLite checkpoint store: the store's commit_items and load_items (see
// actorflow/checkpoint.hpp for what each promises), and the run's counters they move. Each call
// takes the connection's mutex for its SQLite work.

#include <actorflow/checkpoint.hpp>
#include <actorflow/result.hpp>

#include "store/checkpoint_rows.hpp"
#include "store/sqlite.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actorflow::detail::sqlite {

class SqliteItems {
public:
  explicit SqliteItems(Connection& conn) noexcept : conn_(conn) {}

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

  enum class Keys : std::uint8_t {
    all_new, // every key is new: fails (writing nothing) on one that is there already
    any,     // a key already there is replaced, and counted once
  };

  // Each expects the mutex held.
  Result<bool> write(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                     const EncodedOutcomes& encoded, Keys keys, std::int64_t cost_nanos);
  Result<bool> insert_new(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                          const EncodedOutcomes& encoded);
  Result<bool> insert_rows(sqlite3_stmt* stmt, std::string_view run_id,
                           std::span<const std::size_t> rows,
                           const std::vector<ItemCheckpoint>& items,
                           const EncodedOutcomes& encoded);
  Result<Counts> upsert_each(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                             const EncodedOutcomes& encoded);
  Result<void> add_counts(std::string_view run_id, const Counts& moved, std::int64_t cost_nanos);

  static Counts added(Counts counts, const ItemOutcome& outcome);

  Connection& conn_;
  sqlite3_stmt* run_exists_ = nullptr;
  sqlite3_stmt* insert_one_ = nullptr;
  sqlite3_stmt* insert_wide_ = nullptr;   // wide_rows items
  sqlite3_stmt* insert_narrow_ = nullptr; // narrow_rows items
  sqlite3_stmt* select_one_ = nullptr;
  sqlite3_stmt* update_one_ = nullptr;
  sqlite3_stmt* add_counts_ = nullptr;
  sqlite3_stmt* select_all_ = nullptr;
  sqlite3_stmt* count_matching_ = nullptr;
  sqlite3_stmt* select_page_ = nullptr;
  sqlite3_stmt* count_nodes_ = nullptr;
};

} // namespace actorflow::detail::sqlite
