// IngestCache and DocStore on SQLite. Both are a set of statements on `SqliteFile`, which owns
// a `Connection`: one small wrapper that opens a file (setting aside a corrupt one), owns the
// prepared statements and serialises their use.

#include <actorflow/store.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

namespace actorflow {

namespace {

// How long a writer waits for another connection's write to finish before giving up.
constexpr int busy_timeout_ms = 5000;

Errc errc_of(int rc) {
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

bool is_corruption(int rc) {
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

// ":memory:" and "" (a private temporary database) have no file to journal, check or move.
bool is_file(const std::string& path) {
  return !path.empty() && path != ":memory:";
}

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Resets a statement when one use of it ends, however it ends: a SELECT left mid-way would
// keep its read transaction (and so an old WAL snapshot) open until its next use.
class Reset {
public:
  explicit Reset(sqlite3_stmt* stmt) noexcept : stmt_(stmt) {}
  ~Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Reset(const Reset&) = delete;
  Reset& operator=(const Reset&) = delete;

private:
  sqlite3_stmt* stmt_;
};

// SQLITE_STATIC (no copy): every bound value outlives the statement's reset, within one call.
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

// One SQLite connection, opened in multi-thread mode (no mutex of SQLite's own) and guarded
// by `mutex()`: callers hold it across a statement's bind, step and column reads, which must
// not interleave with another thread's use of the same statement.
class Connection {
public:
  // Opens `path` and runs `schema` (CREATE ... IF NOT EXISTS). A file that is not a database
  // or fails quick_check is moved aside and replaced by an empty one, once.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, const char* schema);

  ~Connection() {
    statements_.clear(); // finalised before the connection closes
    sqlite3_close(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares `sql` for the connection's lifetime; the statement is reused by every call.
  Result<sqlite3_stmt*> prepare(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK)
      return error("prepare '" + std::string(sql) + "'", rc);
    statements_.emplace_back(stmt);
    return stmt;
  }

  // "<path>: <what>: <SQLite's message>"; call with the mutex held (the message is per
  // connection).
  [[nodiscard]] Error error(std::string_view what, int rc) const {
    return Error{errc_of(rc), path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_)};
  }

  // Runs a statement that returns no rows (or whose rows do not matter) to completion.
  Result<void> run(sqlite3_stmt* stmt, std::string_view what) {
    Reset reset(stmt);
    int rc = sqlite3_step(stmt);
    while (rc == SQLITE_ROW)
      rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
      return error(what, rc);
    return {};
  }

  // A count(*) statement's answer, 0 on failure.
  std::size_t count(sqlite3_stmt* stmt) {
    Reset reset(stmt);
    if (sqlite3_step(stmt) != SQLITE_ROW)
      return 0;
    return static_cast<std::size_t>(sqlite3_column_int64(stmt, 0));
  }

  std::mutex& mutex() noexcept { return mutex_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] const std::string& rebuild_report() const noexcept { return rebuild_report_; }

  sqlite3_stmt* begin = nullptr; // BEGIN IMMEDIATE: takes the write lock up front
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;

private:
  Connection(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

  std::string path_;
  sqlite3* db_;
  std::mutex mutex_;
  std::vector<StatementPtr> statements_;
  std::string rebuild_report_;
};

// A write transaction on a connection whose mutex the caller holds; rolled back unless
// committed.
class Transaction {
public:
  explicit Transaction(Connection& conn) noexcept : conn_(conn) {}
  ~Transaction() {
    if (open_)
      (void)conn_.run(conn_.rollback, "rollback");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Result<void> begin(std::string_view what) {
    Result<void> begun = conn_.run(conn_.begin, std::string(what) + ": begin");
    open_ = begun.ok();
    return begun;
  }
  Result<void> commit(std::string_view what) {
    Result<void> done = conn_.run(conn_.commit, std::string(what) + ": commit");
    open_ = !done.ok();
    return done;
  }

private:
  Connection& conn_;
  bool open_ = false;
};

// -- opening and corruption ----------------------------------------------------------------

// One try at opening: `db` is set only if everything succeeded.
struct Attempt {
  sqlite3* db = nullptr;
  int rc = SQLITE_OK;
  std::string what;    // the step that failed
  std::string message; // SQLite's (or quick_check's) words
  bool corrupt = false;
};

Attempt try_open(const std::string& path, const char* schema) {
  Attempt attempt;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
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

  auto exec = [&](const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); };
  if (is_file(path)) {
    // WAL: readers never wait for the writer. synchronous=NORMAL is safe against corruption
    // in WAL mode; a power cut may lose the last commits, which a cache can afford.
    // journal_mode is the first statement to read the file: garbage shows up here.
    if (rc = exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"); rc != SQLITE_OK)
      return fail("set journal mode", rc, sqlite3_errmsg(db));

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
  if (rc = exec(schema); rc != SQLITE_OK)
    return fail("create tables", rc, sqlite3_errmsg(db));
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

// Prepares each `sql` into its slot; the first failure is the error.
Result<void>
prepare_all(Connection& conn,
            std::initializer_list<std::pair<sqlite3_stmt**, const char*>> statements) {
  for (auto [slot, sql] : statements) {
    Result<sqlite3_stmt*> stmt = conn.prepare(sql);
    if (!stmt)
      return stmt.error();
    *slot = *stmt;
  }
  return {};
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, const char* schema) {
  Attempt attempt = try_open(path, schema);
  std::string report;
  if (attempt.db == nullptr && attempt.corrupt && is_file(path)) {
    // The journal files belong to the bad database: a stale WAL would be replayed into the
    // new one. The WAL goes with the file (it may help a post-mortem); the shm is an index.
    const std::string aside = path + ".corrupt";
    if (!set_aside(path, aside))
      return Error{Errc::bad_input, path + ": not a usable database (" + attempt.message +
                                        "), and it can be neither renamed nor deleted"};
    set_aside(path + "-wal", aside + "-wal");
    set_aside(path + "-journal", aside + "-journal");
    std::error_code ec;
    std::filesystem::remove(path + "-shm", ec);
    const bool kept = std::filesystem::exists(aside, ec);
    report = path + ": not a usable database (" + attempt.message + "); " +
             (kept ? "moved it to " + aside : std::string("deleted it")) +
             " and started an empty one";
    attempt = try_open(path, schema);
  }
  if (attempt.db == nullptr)
    return Error{errc_of(attempt.rc), path + ": " + attempt.what + ": " + attempt.message};

  std::unique_ptr<Connection> conn(new Connection(path, attempt.db));
  conn->rebuild_report_ = std::move(report);
  Result<void> prepared = prepare_all(*conn, {{&conn->begin, "BEGIN IMMEDIATE"},
                                              {&conn->commit, "COMMIT"},
                                              {&conn->rollback, "ROLLBACK"}});
  if (!prepared)
    return prepared.error();
  return conn;
}

// With the connection's mutex held: `read(stmt)` of the first row `stmt` gives with `key`
// bound to ?1 (read returns an optional), or nothing when there is no row or the read fails.
template <class Read>
auto read_row(sqlite3_stmt* stmt, std::string_view key, Read read) -> decltype(read(stmt)) {
  Reset reset(stmt);
  if (bind_text(stmt, 1, key) != SQLITE_OK || sqlite3_step(stmt) != SQLITE_ROW)
    return std::nullopt;
  return read(stmt);
}

// -- SqliteFile ----------------------------------------------------------------------------

// What IngestCache and DocStore share: one connection to their file, with what opening it
// found. Each store's Impl adds its statements, prepared by `open`.
struct SqliteFile {
  std::unique_ptr<Connection> conn;

  // Opens `path` with `schema` and prepares each statement into its slot (members of the
  // derived Impl); the first failure is the error.
  Result<void> open(const std::string& path, const char* schema,
                    std::initializer_list<std::pair<sqlite3_stmt**, const char*>> statements) {
    Result<std::unique_ptr<Connection>> opened = Connection::open(path, schema);
    if (!opened)
      return opened.error();
    conn = std::move(*opened);
    std::lock_guard lock(conn->mutex());
    return prepare_all(*conn, statements);
  }

  // A count(*) statement's answer, 0 on failure.
  std::size_t count(sqlite3_stmt* stmt) {
    std::lock_guard lock(conn->mutex());
    return conn->count(stmt);
  }

  [[nodiscard]] bool rebuilt() const noexcept { return !conn->rebuild_report().empty(); }
  [[nodiscard]] const std::string& rebuild_report() const noexcept {
    return conn->rebuild_report();
  }
  [[nodiscard]] const std::string& path() const noexcept { return conn->path(); }
};

} // namespace

// -- IngestCache ---------------------------------------------------------------------------

struct IngestCache::Impl : SqliteFile {
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* erase = nullptr;
  sqlite3_stmt* count_all = nullptr;
  sqlite3_stmt* erase_all = nullptr;
};

Result<IngestCache> IngestCache::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  Result<void> opened = impl->open(
      path,
      "CREATE TABLE IF NOT EXISTS ingest_cache ("
      "key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID",
      {{&impl->select, "SELECT value FROM ingest_cache WHERE key = ?1"},
       {&impl->insert, "INSERT OR REPLACE INTO ingest_cache (key, value) VALUES (?1, ?2)"},
       {&impl->erase, "DELETE FROM ingest_cache WHERE key = ?1"},
       {&impl->count_all, "SELECT count(*) FROM ingest_cache"},
       {&impl->erase_all, "DELETE FROM ingest_cache"}});
  if (!opened)
    return opened.error();
  return IngestCache(std::move(impl));
}

IngestCache::IngestCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IngestCache::IngestCache(IngestCache&&) noexcept = default;
IngestCache& IngestCache::operator=(IngestCache&&) noexcept = default;
IngestCache::~IngestCache() = default;

std::string IngestCache::key(std::string_view transformation, std::string_view settings,
                             std::string_view input_hash) {
  // "<n>:<transformation> <m>:<settings> <input_hash>": the lengths make it unambiguous.
  std::string key;
  key.reserve(transformation.size() + settings.size() + input_hash.size() + 24);
  key += std::to_string(transformation.size());
  key += ':';
  key += transformation;
  key += ' ';
  key += std::to_string(settings.size());
  key += ':';
  key += settings;
  key += ' ';
  key += input_hash;
  return key;
}

std::optional<Value> IngestCache::get(std::string_view key) {
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  std::optional<Result<Value>> stored =
      read_row(impl_->select, key, [](sqlite3_stmt* stmt) -> std::optional<Result<Value>> {
        return from_msgpack(column_blob(stmt, 0));
      });
  if (!stored)
    return std::nullopt;
  if (*stored)
    return std::move(*stored).value();
  // Written by another version, or damaged: useless, and a miss either way. Dropping it keeps
  // size() honest; the caller's put will store a good one.
  Reset reset(impl_->erase);
  if (bind_text(impl_->erase, 1, key) == SQLITE_OK)
    (void)conn.run(impl_->erase, "get: remove undecodable value");
  return std::nullopt;
}

Result<void> IngestCache::put(std::string_view key, const Value& value) {
  const std::vector<std::uint8_t> bytes = to_msgpack(value); // outside the lock
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  Reset reset(impl_->insert);
  if (int rc = bind_text(impl_->insert, 1, key); rc != SQLITE_OK)
    return conn.error("put", rc);
  if (int rc = bind_blob(impl_->insert, 2, bytes); rc != SQLITE_OK)
    return conn.error("put", rc);
  return conn.run(impl_->insert, "put");
}

std::size_t IngestCache::size() { return impl_->count(impl_->count_all); }

Result<void> IngestCache::clear() {
  std::lock_guard lock(impl_->conn->mutex());
  return impl_->conn->run(impl_->erase_all, "clear");
}

bool IngestCache::rebuilt() const noexcept { return impl_->rebuilt(); }
const std::string& IngestCache::rebuild_report() const noexcept { return impl_->rebuild_report(); }
const std::string& IngestCache::path() const noexcept { return impl_->path(); }

// -- DocStore ------------------------------------------------------------------------------

struct DocStore::Impl : SqliteFile {
  sqlite3_stmt* select = nullptr; // content_hash, metadata
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* ids = nullptr;
  sqlite3_stmt* erase = nullptr;
  sqlite3_stmt* count_all = nullptr;
};

Result<DocStore> DocStore::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  Result<void> opened = impl->open(
      path,
      "CREATE TABLE IF NOT EXISTS documents ("
      "id TEXT PRIMARY KEY NOT NULL, content_hash TEXT NOT NULL, "
      "metadata BLOB NOT NULL) WITHOUT ROWID",
      {{&impl->select, "SELECT content_hash, metadata FROM documents WHERE id = ?1"},
       {&impl->insert,
        "INSERT OR REPLACE INTO documents (id, content_hash, metadata) VALUES (?1, ?2, ?3)"},
       {&impl->ids, "SELECT id FROM documents ORDER BY id"},
       {&impl->erase, "DELETE FROM documents WHERE id = ?1"},
       {&impl->count_all, "SELECT count(*) FROM documents"}});
  if (!opened)
    return opened.error();
  return DocStore(std::move(impl));
}

DocStore::DocStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DocStore::DocStore(DocStore&&) noexcept = default;
DocStore& DocStore::operator=(DocStore&&) noexcept = default;
DocStore::~DocStore() = default;

Result<DocStore::Change> DocStore::upsert(std::string_view id, std::string_view content_hash,
                                          const Value& metadata) {
  const std::vector<std::uint8_t> bytes = to_msgpack(metadata); // outside the lock
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  // Read and write in one write transaction: another connection's upsert of the same id
  // cannot slip in between.
  Transaction tx(conn);
  if (Result<void> begun = tx.begin("upsert"); !begun)
    return begun.error();

  Change change = Change::added;
  bool same_metadata = false;
  {
    Reset reset(impl_->select);
    if (int rc = bind_text(impl_->select, 1, id); rc != SQLITE_OK)
      return conn.error("upsert", rc);
    const int rc = sqlite3_step(impl_->select);
    if (rc == SQLITE_ROW) {
      change = column_text(impl_->select, 0) == content_hash ? Change::unchanged : Change::changed;
      const std::span<const std::uint8_t> stored = column_blob(impl_->select, 1);
      same_metadata = std::equal(stored.begin(), stored.end(), bytes.begin(), bytes.end());
    } else if (rc != SQLITE_DONE) {
      return conn.error("upsert", rc);
    }
  }
  // A re-run over an unchanged corpus writes nothing.
  if (change != Change::unchanged || !same_metadata) {
    Reset reset(impl_->insert);
    int rc = bind_text(impl_->insert, 1, id);
    if (rc == SQLITE_OK)
      rc = bind_text(impl_->insert, 2, content_hash);
    if (rc == SQLITE_OK)
      rc = bind_blob(impl_->insert, 3, bytes);
    if (rc != SQLITE_OK)
      return conn.error("upsert", rc);
    if (Result<void> written = conn.run(impl_->insert, "upsert"); !written)
      return written.error();
  }
  if (Result<void> done = tx.commit("upsert"); !done)
    return done.error();
  return change;
}

std::optional<std::string> DocStore::hash_of(std::string_view id) {
  std::lock_guard lock(impl_->conn->mutex());
  return read_row(impl_->select, id, [](sqlite3_stmt* stmt) -> std::optional<std::string> {
    return std::string(column_text(stmt, 0));
  });
}

std::optional<Value> DocStore::metadata_of(std::string_view id) {
  std::lock_guard lock(impl_->conn->mutex());
  return read_row(impl_->select, id, [](sqlite3_stmt* stmt) -> std::optional<Value> {
    Result<Value> value = from_msgpack(column_blob(stmt, 1));
    if (!value)
      return std::nullopt;
    return std::move(value).value();
  });
}

Result<std::vector<std::string>>
DocStore::remove_missing(const std::vector<std::string>& present_ids) {
  const std::unordered_set<std::string_view> present(present_ids.begin(), present_ids.end());
  Connection& conn = *impl_->conn;
  std::lock_guard lock(conn.mutex());
  Transaction tx(conn);
  if (Result<void> begun = tx.begin("remove_missing"); !begun)
    return begun.error();

  std::vector<std::string> gone;
  {
    Reset reset(impl_->ids);
    int rc = sqlite3_step(impl_->ids);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(impl_->ids)) {
      const std::string_view id = column_text(impl_->ids, 0);
      if (!present.contains(id))
        gone.emplace_back(id);
    }
    if (rc != SQLITE_DONE)
      return conn.error("remove_missing", rc);
  }
  for (const std::string& id : gone) {
    Reset reset(impl_->erase);
    if (int rc = bind_text(impl_->erase, 1, id); rc != SQLITE_OK)
      return conn.error("remove_missing", rc);
    if (Result<void> erased = conn.run(impl_->erase, "remove_missing '" + id + "'"); !erased)
      return erased.error();
  }
  if (Result<void> done = tx.commit("remove_missing"); !done)
    return done.error();
  return gone;
}

std::size_t DocStore::size() { return impl_->count(impl_->count_all); }

bool DocStore::rebuilt() const noexcept { return impl_->rebuilt(); }
const std::string& DocStore::rebuild_report() const noexcept { return impl_->rebuild_report(); }
const std::string& DocStore::path() const noexcept { return impl_->path(); }

std::string_view to_string(DocStore::Change change) noexcept {
  switch (change) {
    case DocStore::Change::added:
      return "added";
    case DocStore::Change::unchanged:
      return "unchanged";
    case DocStore::Change::changed:
      return "changed";
  }
  return "unknown";
}

} // namespace actorflow
