#include "store/sqlite.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace actorflow::detail::sqlite {

Errc errc_of(int rc) noexcept {
  switch (rc & 0xff) { // primary code
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return Errc::unavailable;
    case SQLITE_INTERNAL:
    case SQLITE_MISUSE:
      return Errc::internal;
    default: // CANTOPEN, READONLY, PERM, CORRUPT, NOTADB, TOOBIG, a foreign schema
      return Errc::bad_input;
  }
}

bool is_corruption(int rc) noexcept {
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

bool is_file(const std::string& path) noexcept { return !path.empty() && path != ":memory:"; }

int bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  // A null pointer would bind SQL NULL, not an empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  return sqlite3_bind_text64(stmt, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

int bind_blob(sqlite3_stmt* stmt, int index, std::span<const std::uint8_t> bytes) {
  static constexpr std::uint8_t none = 0;
  const void* data = bytes.data() != nullptr ? bytes.data() : &none;
  return sqlite3_bind_blob64(stmt, index, data, bytes.size(), SQLITE_STATIC);
}

std::string_view column_text(sqlite3_stmt* stmt, int column) {
  // Text first, then its length: the order SQLite documents for a stable pointer.
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, column));
  return text != nullptr ? std::string_view(text, size) : std::string_view();
}

std::span<const std::uint8_t> column_blob(sqlite3_stmt* stmt, int column) {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, column));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, column));
  return data != nullptr ? std::span(data, size) : std::span<const std::uint8_t>();
}

// -- Connection ------------------------------------------------------------------------------

Connection::~Connection() {
  statements_.clear(); // finalised before the connection closes
  if (checkpointer_) {
    sqlite3_wal_hook(db_, nullptr, nullptr);
    checkpointer_.reset(); // closed first, so that closing this last connection checkpoints
  }
  sqlite3_close(db_);
}

Result<sqlite3_stmt*> Connection::prepare(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = "prepare '";
    what += sql;
    what += '\'';
    return error(what, rc);
  }
  statements_.emplace_back(stmt);
  return stmt;
}

Error Connection::error(std::string_view what, int rc) const {
  std::string message = path_;
  message += ": ";
  message += what;
  message += ": ";
  message += sqlite3_errmsg(db_);
  return Error{errc_of(rc), std::move(message)};
}

Result<void> Connection::run(sqlite3_stmt* stmt, std::string_view what) {
  Reset reset(stmt);
  int rc = sqlite3_step(stmt);
  while (rc == SQLITE_ROW)
    rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE)
    return error(what, rc);
  return {};
}

Result<void> Connection::exec(const char* sql, std::string_view what) {
  if (int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); rc != SQLITE_OK)
    return error(what, rc);
  return {};
}

std::size_t Connection::count(sqlite3_stmt* stmt) {
  Reset reset(stmt);
  if (sqlite3_step(stmt) != SQLITE_ROW)
    return 0;
  return static_cast<std::size_t>(sqlite3_column_int64(stmt, 0));
}

Transaction::~Transaction() {
  if (open_)
    (void)conn_.run(conn_.rollback, "rollback");
}

Result<void> Transaction::begin(std::string_view what) {
  std::string step(what);
  step += ": begin";
  Result<void> begun = conn_.run(conn_.begin, step);
  open_ = begun.ok();
  return begun;
}

Result<void> Transaction::commit(std::string_view what) {
  std::string step(what);
  step += ": commit";
  Result<void> done = conn_.run(conn_.commit, step);
  open_ = !done.ok();
  return done;
}

Result<void> prepare_all(Connection& conn,
                         std::initializer_list<std::pair<sqlite3_stmt**, const char*>> statements) {
  for (auto [slot, sql] : statements) {
    Result<sqlite3_stmt*> stmt = conn.prepare(sql);
    if (!stmt)
      return stmt.error();
    *slot = *stmt;
  }
  return {};
}

// -- opening and corruption ----------------------------------------------------------------

namespace {

// One try at opening: `db` is set only if everything succeeded.
struct Attempt {
  sqlite3* db = nullptr;
  int rc = SQLITE_OK;
  std::string what;    // the step that failed
  std::string message; // SQLite's (or quick_check's) words
  bool corrupt = false;
  std::optional<Error> refused; // by OpenOptions::inspect, as it said
};

Attempt try_open(const std::string& path, const OpenOptions& options) {
  Attempt attempt;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto fail = [&](std::string what, int code, std::string message) {
    attempt.rc = code;
    attempt.what = std::move(what);
    attempt.message = std::move(message);
    attempt.corrupt = is_corruption(code);
    sqlite3_close(db); // a no-op on nullptr
    return attempt;
  };
  if (rc != SQLITE_OK)
    return fail("open", rc, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  sqlite3_busy_timeout(db, busy_timeout_ms);

  // Reads only, so that a file refused here is left byte for byte as it was. Its first
  // statement is the first to read the file: garbage shows up here.
  if (is_file(path)) {
    // A damaged page would otherwise surface later as a failing get or put.
    sqlite3_stmt* check = nullptr;
    rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &check, nullptr);
    if (rc != SQLITE_OK)
      return fail("quick_check", rc, sqlite3_errmsg(db));
    rc = sqlite3_step(check);
    std::string verdict =
        rc == SQLITE_ROW ? std::string(column_text(check, 0)) : std::string(sqlite3_errmsg(db));
    sqlite3_finalize(check);
    if (rc != SQLITE_ROW)
      return fail("quick_check", rc, std::move(verdict));
    if (verdict != "ok") {
      std::replace(verdict.begin(), verdict.end(), '\n', ' '); // one line for a log
      return fail("quick_check", SQLITE_CORRUPT, std::move(verdict));
    }
  }
  if (options.inspect) {
    if (Result<void> accepted = options.inspect(db); !accepted) {
      attempt.refused = accepted.error();
      return fail("inspect", SQLITE_OK, accepted.error().message);
    }
  }

  auto exec = [&](const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); };
  if (is_file(path)) {
    // See Connection on WAL and synchronous=NORMAL. A WAL that grew under a burst of writes is
    // cut back to 16 MiB when it starts over, so that its file does not stay at its largest.
    if (rc = exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                  "PRAGMA journal_size_limit=16777216");
        rc != SQLITE_OK)
      return fail("set journal mode", rc, sqlite3_errmsg(db));
  }
  if (options.schema != nullptr) {
    if (rc = exec(options.schema); rc != SQLITE_OK)
      return fail("create tables", rc, sqlite3_errmsg(db));
  }
  attempt.db = db;
  return attempt;
}

// Renames `from` to `to`, or deletes it if it cannot be renamed; true if `from` is gone.
bool set_aside(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  if (!std::filesystem::exists(from, ec))
    return true;
  std::filesystem::rename(from, to, ec);
  if (!ec)
    return true;
  return std::filesystem::remove(from, ec) && !ec;
}

} // namespace

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path,
                                                     const OpenOptions& options) {
  Attempt attempt = try_open(path, options);
  if (attempt.refused)
    return std::move(*attempt.refused);
  std::string report;
  if (attempt.db == nullptr && attempt.corrupt && is_file(path)) {
    std::string unusable = path;
    unusable += ": not a usable database (";
    unusable += attempt.message;
    unusable += ')';
    if (options.on_corruption == OnCorruption::fail) {
      unusable += "; left as it is";
      return Error{Errc::bad_input, std::move(unusable)};
    }
    // The journal files belong to the bad database: a stale WAL would be replayed into the
    // new one. The WAL goes with the file (it may help a post-mortem); the shm is an index.
    const std::string aside = path + ".corrupt";
    if (!set_aside(path, aside)) {
      unusable += ", and it can be neither renamed nor deleted";
      return Error{Errc::bad_input, std::move(unusable)};
    }
    set_aside(path + "-wal", aside + "-wal");
    set_aside(path + "-journal", aside + "-journal");
    std::error_code ec;
    std::filesystem::remove(path + "-shm", ec);
    report = std::move(unusable);
    if (std::filesystem::exists(aside, ec)) {
      report += "; moved it to ";
      report += aside;
    } else {
      report += "; deleted it";
    }
    report += " and started an empty one";
    attempt = try_open(path, options);
    if (attempt.refused)
      return std::move(*attempt.refused);
  }
  if (attempt.db == nullptr) {
    std::string message = path;
    message += ": ";
    message += attempt.what;
    message += ": ";
    message += attempt.message;
    return Error{errc_of(attempt.rc), std::move(message)};
  }

  std::unique_ptr<Connection> conn(new Connection(path, attempt.db));
  conn->rebuild_report_ = std::move(report);
  if (options.checkpoint_in_background && is_file(path)) {
    Result<std::unique_ptr<WalCheckpointer>> started = WalCheckpointer::start(path);
    if (!started)
      return started.error();
    conn->checkpointer_ = std::move(*started);
    conn->checkpointer_->watch(conn->db_);
  }
  Result<void> prepared = prepare_all(*conn, {{&conn->begin, "BEGIN IMMEDIATE"},
                                              {&conn->commit, "COMMIT"},
                                              {&conn->rollback, "ROLLBACK"}});
  if (!prepared)
    return prepared.error();
  return conn;
}

// -- SqliteFile ----------------------------------------------------------------------------

Result<void>
SqliteFile::open(const std::string& path, const char* schema,
                 std::initializer_list<std::pair<sqlite3_stmt**, const char*>> statements) {
  OpenOptions options;
  options.schema = schema;
  Result<std::unique_ptr<Connection>> opened = Connection::open(path, options);
  if (!opened)
    return opened.error();
  conn = std::move(*opened);
  std::lock_guard lock(conn->mutex());
  return prepare_all(*conn, statements);
}

std::size_t SqliteFile::count(sqlite3_stmt* stmt) {
  std::lock_guard lock(conn->mutex());
  return conn->count(stmt);
}

} // namespace actorflow::detail::sqlite
