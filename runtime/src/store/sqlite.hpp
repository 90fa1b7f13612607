#pragma once
// The SQLite pieces every store shares (IngestCache, DocStore, the checkpoint store): a
// `Connection` that opens a file and owns its prepared statements, RAII for statement resets and
// write transactions, and typed bind/column helpers. Internal: the public headers never name
// SQLite.

#include <actorflow/result.hpp>

#include "store/wal_checkpointer.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow::detail::sqlite {

// How long a writer waits for another connection's write to finish before giving up.
inline constexpr int busy_timeout_ms = 5000;

// The Errc of an SQLite result code: unavailable for what a retry could fix (busy, I/O, full),
// internal for misuse, bad_input for the rest.
[[nodiscard]] Errc errc_of(int rc) noexcept;

// A file that is not a database, or one whose pages are damaged.
[[nodiscard]] bool is_corruption(int rc) noexcept;

// ":memory:" and "" (a private temporary database) have no file to journal, check or move.
[[nodiscard]] bool is_file(const std::string& path) noexcept;

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

// The binds are SQLITE_STATIC (no copy): every bound value must outlive the statement's reset,
// which holds when both happen within one call.
int bind_text(sqlite3_stmt* stmt, int index, std::string_view text);
int bind_blob(sqlite3_stmt* stmt, int index, std::span<const std::uint8_t> bytes);
inline int bind_value(sqlite3_stmt* stmt, int index, std::string_view text) {
  return bind_text(stmt, index, text);
}
inline int bind_value(sqlite3_stmt* stmt, int index, std::span<const std::uint8_t> bytes) {
  return bind_blob(stmt, index, bytes);
}
inline int bind_value(sqlite3_stmt* stmt, int index, std::int64_t number) {
  return sqlite3_bind_int64(stmt, index, number);
}
// Binds `values` to the parameters from `first` on, in order, and stops at the first failure:
// SQLITE_OK, or that failure's code. Text, blobs and integers, as bind_value takes them.
template <class... Values>
int bind_all(sqlite3_stmt* stmt, int first, const Values&... values) {
  int rc = SQLITE_OK;
  int index = first;
  ((rc = rc == SQLITE_OK ? bind_value(stmt, index++, values) : rc), ...);
  return rc;
}

// Views into the current row: valid until the next step or reset of `stmt`.
[[nodiscard]] std::string_view column_text(sqlite3_stmt* stmt, int column);
[[nodiscard]] std::span<const std::uint8_t> column_blob(sqlite3_stmt* stmt, int column);

// What to do with a file that is not a database, or fails quick_check.
enum class OnCorruption : std::uint8_t {
  set_aside, // move it to "<path>.corrupt" and start an empty one: for caches, which may lose data
  fail,      // leave it as it is and fail: for stores whose data cannot be recomputed
};

struct OpenOptions {
  // Statements run last on every open, e.g. CREATE TABLE IF NOT EXISTS; null runs none.
  const char* schema = nullptr;
  OnCorruption on_corruption = OnCorruption::set_aside;
  // Looks at the database after quick_check and before anything writes to it (the switch to
  // WAL, `schema`); an error refuses the file as it is. Lets a store turn away another
  // program's database without converting it first.
  std::function<Result<void>(sqlite3* db)> inspect{};
  // Checkpoints the WAL on a thread of its own (store/wal_checkpointer.hpp) rather than in the
  // commit that fills it, so that no commit waits for the disk.
  bool checkpoint_in_background = false;
};

// -- Connection ------------------------------------------------------------------------------

// One SQLite connection, opened in multi-thread mode (no mutex of SQLite's own) and guarded
// by `mutex()`: callers hold it across a statement's bind, step and column reads, which must
// not interleave with another thread's use of the same statement.
//
// Files are opened in WAL mode with synchronous=NORMAL: readers never wait for the writer, and
// a commit does not wait for the disk. That is safe against corruption; a power cut (not a
// crash of the process) may lose the last commits.
class Connection {
public:
  // Opens `path`, checks it, and runs `options.schema`. A file that is not a database or fails
  // quick_check is set aside and replaced by an empty one, once, or refused: see OnCorruption.
  static Result<std::unique_ptr<Connection>> open(const std::string& path,
                                                  const OpenOptions& options);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares `sql` for the connection's lifetime; the statement is reused by every call.
  Result<sqlite3_stmt*> prepare(const char* sql);

  // "<path>: <what>: <SQLite's message>"; call with the mutex held (the message is per
  // connection).
  [[nodiscard]] Error error(std::string_view what, int rc) const;

  // Runs a statement that returns no rows (or whose rows do not matter) to completion.
  Result<void> run(sqlite3_stmt* stmt, std::string_view what);

  // Runs `sql` (one or more statements, no parameters) once, without keeping it prepared.
  Result<void> exec(const char* sql, std::string_view what);

  // A count(*) statement's answer, 0 on failure.
  std::size_t count(sqlite3_stmt* stmt);

  // Rows changed by the last INSERT, UPDATE or DELETE; call with the mutex held.
  [[nodiscard]] std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }

  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }
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
  std::unique_ptr<WalCheckpointer> checkpointer_; // with OpenOptions::checkpoint_in_background
};

// A write transaction on a connection whose mutex the caller holds; rolled back unless
// committed.
class Transaction {
public:
  explicit Transaction(Connection& conn) noexcept : conn_(conn) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Result<void> begin(std::string_view what);
  Result<void> commit(std::string_view what);

private:
  Connection& conn_;
  bool open_ = false;
};

// Prepares each `sql` into its slot; the first failure is the error.
Result<void> prepare_all(Connection& conn,
                         std::initializer_list<std::pair<sqlite3_stmt**, const char*>> statements);

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

// What IngestCache and DocStore share: one connection to their file (set aside and rebuilt if
// corrupt), with what opening it found. Each store's Impl adds its statements, prepared by
// `open`.
struct SqliteFile {
  std::unique_ptr<Connection> conn;

  // Opens `path` with `schema` and prepares each statement into its slot (members of the
  // derived Impl); the first failure is the error.
  Result<void> open(const std::string& path, const char* schema,
                    std::initializer_list<std::pair<sqlite3_stmt**, const char*>> statements);

  // A count(*) statement's answer, 0 on failure.
  std::size_t count(sqlite3_stmt* stmt);

  [[nodiscard]] bool rebuilt() const noexcept { return !conn->rebuild_report().empty(); }
  [[nodiscard]] const std::string& rebuild_report() const noexcept {
    return conn->rebuild_report();
  }
  [[nodiscard]] const std::string& path() const noexcept { return conn->path(); }
};

} // namespace actorflow::detail::sqlite
