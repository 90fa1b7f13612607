#include "store/checkpoint_rows.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace actorflow::detail::sqlite {

std::int64_t to_ms(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::int64_t now_ms() { return to_ms(std::chrono::system_clock::now()); }

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point{std::chrono::milliseconds{ms}};
}

std::uint64_t count_of(sqlite3_stmt* stmt, int column) {
  return static_cast<std::uint64_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(stmt, column)));
}

Error no_run(const Connection& conn, std::string_view run_id) {
  std::string message = "no run '";
  message += run_id;
  message += "' in ";
  message += conn.path();
  return Error{Errc::bad_input, std::move(message)};
}

Error undecodable(const Connection& conn, std::string_view run_id, std::string_view what,
                  const Error& error) {
  std::string message = conn.path();
  message += ": run '";
  message += run_id;
  message += "': ";
  message += what;
  message += " does not decode: ";
  message += error.message;
  return Error{Errc::bad_input, std::move(message)};
}

Result<bool> run_known(Connection& conn, sqlite3_stmt* run_exists, std::string_view run_id,
                       std::string_view what) {
  Reset reset(run_exists);
  int rc = bind_text(run_exists, 1, run_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(run_exists);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return conn.error(what, rc);
  return rc == SQLITE_ROW;
}

} // namespace actorflow::detail::sqlite
