#include "store/postgres.hpp"

#include <algorithm>
#include <cstring>

namespace actorflow::detail::postgres {

namespace {

// Waits this long for a server that does not answer, unless the URL says otherwise: a host
// that is gone must not hold a run for TCP's minutes.
constexpr const char* default_connect_timeout_s = "10";

// The password in `url`'s userinfo, or "" (what an error message must never repeat).
std::string_view userinfo_password(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos)
    return {};
  const std::string_view rest = url.substr(scheme + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos)
    return {};
  const std::size_t colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos)
    return {};
  return authority.substr(colon + 1, at - colon - 1);
}

// The value of a "password=" parameter in `url`'s query, or "".
std::string_view query_password(std::string_view url) {
  const std::size_t query = url.find('?');
  if (query == std::string_view::npos)
    return {};
  std::string_view params = url.substr(query + 1);
  while (!params.empty()) {
    const std::size_t amp = params.find('&');
    const std::string_view param = params.substr(0, amp);
    if (param.starts_with("password="))
      return param.substr(9);
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
  }
  return {};
}

// `message` with every occurrence of `secret` replaced: libpq quotes parts of a malformed URL.
std::string scrubbed(std::string message, std::string_view secret) {
  if (secret.empty())
    return message;
  for (std::size_t at = message.find(secret); at != std::string::npos;
       at = message.find(secret, at))
    message.replace(at, secret.size(), "***");
  return message;
}

// libpq's messages end in a newline, some in several.
std::string trimmed(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  return message;
}

// What a retry could fix: a broken connection (class 08), a serialisation failure or deadlock
// (40), a server short of resources (53), shutting down (57) or failing on its disk (58).
Errc errc_of_sqlstate(const char* sqlstate) noexcept {
  if (sqlstate == nullptr || std::strlen(sqlstate) != 5)
    return Errc::unavailable; // no answer from the server at all
  const std::string_view state_class(sqlstate, 2);
  for (std::string_view transient : {"08", "40", "53", "57", "58"})
    if (state_class == transient)
      return Errc::unavailable;
  return Errc::bad_input;
}

// Discards the server's notices ("relation already exists, skipping"): libpq would print them
// on stderr, which belongs to the host.
void ignore_notice(void*, const char*) {}

} // namespace

bool is_postgres_url(std::string_view path) noexcept {
  return path.starts_with("postgresql://") || path.starts_with("postgres://");
}

std::string without_password(std::string_view url) {
  std::string out(url);
  if (const std::string_view password = userinfo_password(url); !password.empty()) {
    const std::size_t colon =
        static_cast<std::size_t>(password.data() - url.data()) - 1; // the ':' before it
    out.erase(colon, password.size() + 1);
  }
  // A "password=" parameter in the query, wherever it stands.
  const std::size_t query = out.find('?');
  if (query == std::string::npos)
    return out;
  std::string kept = out.substr(0, query);
  std::string_view params = std::string_view(out).substr(query + 1);
  char separator = '?';
  while (!params.empty()) {
    const std::size_t amp = params.find('&');
    const std::string_view param = params.substr(0, amp);
    if (!param.starts_with("password=")) {
      kept += separator;
      kept += param;
      separator = '&';
    }
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
  }
  return kept;
}

// -- Rows --------------------------------------------------------------------------------------

std::string_view Rows::text(int row, int column) const noexcept {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::span<const std::uint8_t> Rows::bytes(int row, int column) const noexcept {
  const auto* data = reinterpret_cast<const std::uint8_t*>(PQgetvalue(result_.get(), row, column));
  return {data, static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t Rows::int64(int row, int column) const noexcept {
  if (is_null(row, column) || PQgetlength(result_.get(), row, column) != 8)
    return 0;
  const auto* data = reinterpret_cast<const std::uint8_t*>(PQgetvalue(result_.get(), row, column));
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value = (value << 8) | data[i]; // network order
  return static_cast<std::int64_t>(value);
}

std::uint64_t Rows::count(int row, int column) const noexcept {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, int64(row, column)));
}

std::int64_t Rows::changed() const noexcept {
  const char* tuples = PQcmdTuples(result_.get());
  std::int64_t changed = 0;
  for (; tuples != nullptr && *tuples >= '0' && *tuples <= '9'; ++tuples)
    changed = changed * 10 + (*tuples - '0');
  return changed;
}

// -- Params ------------------------------------------------------------------------------------

Params& Params::add(const char* data, std::size_t size) {
  values_.push_back(data);
  lengths_.push_back(static_cast<int>(size));
  formats_.push_back(1); // binary
  return *this;
}

Params& Params::text(std::string_view value) {
  // A null pointer would send SQL NULL, not an empty string.
  return add(value.data() != nullptr ? value.data() : "", value.size());
}

Params& Params::bytes(std::span<const std::uint8_t> value) {
  const char* data = value.data() != nullptr ? reinterpret_cast<const char*>(value.data()) : "";
  return add(data, value.size());
}

Params& Params::int64(std::int64_t value) {
  auto& slot = integers_.emplace_back(std::make_unique<char[]>(8));
  auto bits = static_cast<std::uint64_t>(value);
  for (int i = 7; i >= 0; --i, bits >>= 8)
    slot[static_cast<std::size_t>(i)] = static_cast<char>(bits & 0xff); // network order
  return add(slot.get(), 8);
}

Params& Params::null() { return add(nullptr, 0); }

// -- Connection --------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  std::string name = without_password(url);
  // The URL is expanded in place of "dbname"; what it sets itself wins over the defaults before
  // it.
  // UTF-8 on the wire whatever the server's default: text is stored as the store got it.
  const char* keys[] = {"connect_timeout", "fallback_application_name", "client_encoding", "dbname",
                        nullptr};
  const char* values[] = {default_connect_timeout_s, "actorflow", "UTF8", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (conn == nullptr)
    return Error{Errc::unavailable, name + ": connecting: out of memory"};
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = name;
    message += ": connecting: ";
    // libpq may quote a piece of the URL it cannot parse: neither password may show.
    message += scrubbed(scrubbed(trimmed(PQerrorMessage(conn)), userinfo_password(url)),
                        query_password(url));
    PQfinish(conn);
    return Error{Errc::unavailable, std::move(message)};
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return std::unique_ptr<Connection>(new Connection(std::move(name), conn));
}

Connection::~Connection() { PQfinish(conn_); }

Result<void> Connection::prepare(std::vector<Statement> statements) {
  if (Result<void> session = ensure_session("prepare"); !session)
    return session;
  for (Statement& statement : statements) {
    if (Result<void> prepared = prepare_on_session(statement); !prepared)
      return prepared;
    statements_.push_back(std::move(statement));
  }
  return {};
}

Result<void> Connection::prepare_on_session(const Statement& statement) {
  std::string what = "prepare '";
  what += statement.sql;
  what += '\'';
  Result<Rows> prepared =
      checked(PQprepare(conn_, statement.name, statement.sql.c_str(), 0, nullptr), what);
  if (!prepared)
    return prepared.error();
  return {};
}

Result<void> Connection::ensure_session(std::string_view what) {
  if (PQstatus(conn_) == CONNECTION_OK)
    return {};
  if (in_transaction_) {
    std::string message = name_;
    message += ": ";
    message += what;
    message += ": the connection to the server broke during the transaction";
    return Error{Errc::unavailable, std::move(message)};
  }
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = name_;
    message += ": ";
    message += what;
    message += ": the server cannot be reached: ";
    message += trimmed(PQerrorMessage(conn_));
    return Error{Errc::unavailable, std::move(message)};
  }
  // A new session: the server forgot the statements prepared on the old one.
  for (const Statement& statement : statements_)
    if (Result<void> prepared = prepare_on_session(statement); !prepared)
      return prepared;
  return {};
}

Result<Rows> Connection::run(const char* statement, const Params& params, std::string_view what) {
  if (Result<void> session = ensure_session(what); !session)
    return session.error();
  return checked(PQexecPrepared(conn_, statement, params.size(), params.values(), params.lengths(),
                                params.formats(), 1),
                 what);
}

Result<Rows> Connection::exec(const char* sql, std::string_view what) {
  if (Result<void> session = ensure_session(what); !session)
    return session.error();
  return checked(PQexec(conn_, sql), what);
}

Result<Rows> Connection::checked(PGresult* result, std::string_view what) {
  Rows rows(result);
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
    return rows;
  return error(what, result);
}

Error Connection::error(std::string_view what, const PGresult* result) const {
  std::string message = name_;
  message += ": ";
  message += what;
  message += ": ";
  const char* said = result != nullptr ? PQresultErrorMessage(result) : "";
  message += trimmed(*said != '\0' ? said : PQerrorMessage(conn_));
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  return Error{errc_of_sqlstate(sqlstate), std::move(message)};
}

// -- Transaction -------------------------------------------------------------------------------

Transaction::~Transaction() {
  if (open_)
    (void)conn_.exec("ROLLBACK", "rollback"); // a connection that broke rolled back already
  conn_.in_transaction_ = false;
}

Result<void> Transaction::begin(std::string_view what) {
  Result<Rows> begun = conn_.exec("BEGIN", what);
  if (!begun)
    return begun.error();
  open_ = true;
  conn_.in_transaction_ = true;
  return {};
}

Result<void> Transaction::commit(std::string_view what) {
  Result<Rows> committed = conn_.exec("COMMIT", what);
  if (!committed)
    return committed.error();
  // A transaction in which a statement failed ends in ROLLBACK, without an error.
  if (std::string_view(PQcmdStatus(committed->get())) != "COMMIT")
    return Error{Errc::unavailable, conn_.name() + ": " + std::string(what) +
                                        ": the server rolled the transaction back"};
  open_ = false;
  conn_.in_transaction_ = false;
  return {};
}

} // namespace actorflow::detail::postgres
