#pragma once
// The libpq pieces the PostgreSQL checkpoint store stands on: a `Connection` to one server that
// owns its prepared statements and comes back after the server dropped it, RAII for results
// and transactions, parameters in binary, and typed reads of binary result columns.
// Internal: the public headers never name libpq.

#include <actorflow/result.hpp>

#include <cstddef>
#include <cstdint>
#include <libpq-fe.h>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow::detail::postgres {

// Whether `path` names a PostgreSQL database: "postgresql://..." or "postgres://...".
[[nodiscard]] bool is_postgres_url(std::string_view path) noexcept;

// `url` with the password removed, from the userinfo ("user:secret@" -> "user@") and from a
// "password=" parameter: what errors and listings may show.
[[nodiscard]] std::string without_password(std::string_view url);

// -- results -----------------------------------------------------------------------------------

struct ResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};

// A result whose columns were asked for in binary: each reader checks the size it expects, so
// that a column of another type reads as nothing rather than as garbage.
class Rows {
public:
  Rows() = default;
  explicit Rows(PGresult* result) noexcept : result_(result) {}

  [[nodiscard]] int size() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  [[nodiscard]] bool is_null(int row, int column) const noexcept {
    return PQgetisnull(result_.get(), row, column) != 0;
  }
  // text and bytea: the bytes as sent (a view into the result).
  [[nodiscard]] std::string_view text(int row, int column) const noexcept;
  [[nodiscard]] std::span<const std::uint8_t> bytes(int row, int column) const noexcept;
  // bigint (int8); 0 when NULL or not 8 bytes.
  [[nodiscard]] std::int64_t int64(int row, int column) const noexcept;
  // A count, never negative even in a table someone else wrote.
  [[nodiscard]] std::uint64_t count(int row, int column) const noexcept;
  // Rows an INSERT, UPDATE or DELETE changed.
  [[nodiscard]] std::int64_t changed() const noexcept;
  [[nodiscard]] PGresult* get() const noexcept { return result_.get(); }

private:
  std::unique_ptr<PGresult, ResultDeleter> result_;
};

// -- parameters --------------------------------------------------------------------------------

// A statement's parameters, all in binary: text and bytea as their bytes, integers as 8
// big-endian bytes (the statements cast them: `$2::bigint`). Views: what is added must outlive
// the call that sends it.
class Params {
public:
  Params& text(std::string_view value);
  Params& bytes(std::span<const std::uint8_t> value);
  Params& int64(std::int64_t value);
  Params& null();

  [[nodiscard]] int size() const noexcept { return static_cast<int>(values_.size()); }
  [[nodiscard]] const char* const* values() const noexcept { return values_.data(); }
  [[nodiscard]] const int* lengths() const noexcept { return lengths_.data(); }
  [[nodiscard]] const int* formats() const noexcept { return formats_.data(); }

private:
  Params& add(const char* data, std::size_t size);

  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<std::unique_ptr<char[]>> integers_; // stable: values_ points into them
};

// -- Connection --------------------------------------------------------------------------------

// A statement prepared on every session of a Connection, under a name of its own.
struct Statement {
  const char* name;
  std::string sql;
};

// One libpq connection, guarded by `mutex()`: callers hold it across a call's statements (a
// connection runs one command at a time). A connection the server dropped (a restart, a
// network cut) is reset once by the next call, which prepares the statements again.
class Connection {
public:
  // Connects to `url` (libpq's URI syntax) and checks the server; unavailable when it cannot
  // be reached, naming the URL without its password.
  static Result<std::unique_ptr<Connection>> open(const std::string& url);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares `statements` now and on every later session; the mutex held.
  Result<void> prepare(std::vector<Statement> statements);

  // Runs a prepared statement with binary results; a result that is not a success is an error
  // naming the store and `what`. The mutex held.
  Result<Rows> run(const char* statement, const Params& params, std::string_view what);
  // Runs `sql` (no parameters; several statements allowed, the last one's rows returned).
  Result<Rows> exec(const char* sql, std::string_view what);

  std::mutex& mutex() noexcept { return mutex_; }
  // The URL without its password: how errors and listings name the store.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
  Connection(std::string name, PGconn* conn) : name_(std::move(name)), conn_(conn) {}

  // A session that works: the current one, or a reset one with the statements prepared again.
  Result<void> ensure_session(std::string_view what);
  Result<void> prepare_on_session(const Statement& statement);
  // "<name>: <what>: <the server's message>", its Errc from the SQLSTATE.
  [[nodiscard]] Error error(std::string_view what, const PGresult* result) const;
  Result<Rows> checked(PGresult* result, std::string_view what);

  friend class Transaction;

  std::string name_;
  PGconn* conn_;
  std::mutex mutex_;
  std::vector<Statement> statements_;
  // Set by Transaction: a session lost inside one is an error, never silently replaced (a
  // COMMIT on a new session would commit nothing and report success).
  bool in_transaction_ = false;
};

// A transaction on a connection whose mutex the caller holds; rolled back unless committed.
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

} // namespace actorflow::detail::postgres
