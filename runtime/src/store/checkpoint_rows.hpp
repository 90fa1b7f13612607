#pragma once
// What the SQLite checkpoint store's parts (runs and items, interrupts) share: times as stored,
// counts read back, and the errors that name the store's file and the run.

#include <actorflow/result.hpp>

#include "store/sqlite.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

namespace actorflow::detail::sqlite {

// Times are stored as milliseconds since the epoch.
[[nodiscard]] std::int64_t to_ms(std::chrono::system_clock::time_point time);
[[nodiscard]] std::int64_t now_ms();
[[nodiscard]] std::chrono::system_clock::time_point from_ms(std::int64_t ms);

// A count column, never negative even in a file someone else wrote.
[[nodiscard]] std::uint64_t count_of(sqlite3_stmt* stmt, int column);

// "no run 'r' in <path>"
[[nodiscard]] Error no_run(const Connection& conn, std::string_view run_id);

// "<path>: run 'r': <what> does not decode: <error>"
[[nodiscard]] Error undecodable(const Connection& conn, std::string_view run_id,
                                std::string_view what, const Error& error);

// The statement `run_exists` expects (the run's id bound to ?1).
inline constexpr const char* run_exists_sql = "SELECT 1 FROM runs WHERE id = ?1";

// Whether the run is recorded; the connection's mutex held.
[[nodiscard]] Result<bool> run_known(Connection& conn, sqlite3_stmt* run_exists,
                                     std::string_view run_id, std::string_view what);

} // namespace actorflow::detail::sqlite
