#include "store/sqlite_rows.hpp"

#include <algorithm>

namespace actorflow::detail::sqlite {

std::uint64_t count_of(sqlite3_stmt* stmt, int column) {
  return static_cast<std::uint64_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(stmt, column)));
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
