#pragma once
// What the SQLite checkpoint store's parts (runs and items, interrupts, the batch journal)
// share about SQLite: counts read back, the errors that name the store's file and the run, and
// the check that a run is recorded.

#include <actorflow/result.hpp>

#include "store/checkpoint_rows.hpp"
#include "store/sqlite.hpp"

#include <cstdint>
#include <string_view>

namespace actorflow::detail::sqlite {

// A count column, never negative even in a file someone else wrote.
[[nodiscard]] std::uint64_t count_of(sqlite3_stmt* stmt, int column);

// "no run 'r' in <path>"
[[nodiscard]] inline Error no_run(const Connection& conn, std::string_view run_id) {
  return detail::no_run(conn.path(), run_id);
}

// "<path>: run 'r': <what> does not decode: <error>"
[[nodiscard]] inline Error undecodable(const Connection& conn, std::string_view run_id,
                                       std::string_view what, const Error& error) {
  return detail::undecodable(conn.path(), run_id, what, error);
}

// The statement `run_known` expects (the run's id bound to ?1).
inline constexpr const char* run_exists_sql = "SELECT 1 FROM runs WHERE id = ?1";

// Whether the run is recorded; the connection's mutex held.
[[nodiscard]] Result<bool> run_known(Connection& conn, sqlite3_stmt* run_exists,
                                     std::string_view run_id, std::string_view what);

} // namespace actorflow::detail::sqlite
