#pragma once
// The interrupts table of the SQLite checkpoint store: the store's save_interrupt,
// answer_interrupt and load_interrupts (see actorflow/checkpoint.hpp for what each promises).
// Each call takes the connection's mutex for its SQLite work.

#include <actorflow/interrupt.hpp>
#include <actorflow/result.hpp>

#include "store/sqlite.hpp"

#include <string_view>
#include <vector>

namespace actorflow::detail::sqlite {

class SqliteInterrupts {
public:
  explicit SqliteInterrupts(Connection& conn) noexcept : conn_(conn) {}

  // Prepares the statements; the mutex held.
  Result<void> prepare();

  Result<void> save(std::string_view run_id, const Interrupt& interrupt);
  Result<void> answer(std::string_view run_id, std::string_view id, const Value& answer);
  Result<std::vector<Interrupt>> load(std::string_view run_id);

private:
  Connection& conn_;
  sqlite3_stmt* run_exists_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
  sqlite3_stmt* answer_ = nullptr;
  sqlite3_stmt* status_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
};

} // namespace actorflow::detail::sqlite
