#pragma once
// A PostgreSQL schema of its own for one test, on the throwaway server CTest starts (fixture
// `postgres`, tools/postgres-test-server): created by the constructor, dropped with everything
// in it by the destructor. Its URL selects it through libpq's search_path option, so that a
// store (or a child process given only the URL) opened on it sees no other test's tables.
//
// The server's URL comes from $ACTORFLOW_TEST_POSTGRES_URL (a server of one's own), else from
// the file $ACTORFLOW_TEST_POSTGRES_URL_FILE names, which the fixture writes; neither: no
// server, and the PostgreSQL tests say they are skipped.

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <libpq-fe.h>
#include <optional>
#include <random>
#include <string>

namespace actorflow::testing_support {

class PostgresTestSchema {
public:
  // The server's URL, or none.
  static std::optional<std::string> server_url() {
    if (const char* url = std::getenv("ACTORFLOW_TEST_POSTGRES_URL"); url != nullptr && *url)
      return std::string(url);
    const char* file = std::getenv("ACTORFLOW_TEST_POSTGRES_URL_FILE");
    if (file == nullptr)
      return std::nullopt;
    std::ifstream in(file);
    std::string url;
    if (!std::getline(in, url) || url.empty())
      return std::nullopt;
    return url;
  }

  // Says, once per test, that the PostgreSQL part is skipped (and why); false then.
  static bool available() {
    if (server_url())
      return true;
    MESSAGE("skipped on PostgreSQL: no test server (install Debian's postgresql; CTest starts "
            "it, or set ACTORFLOW_TEST_POSTGRES_URL)");
    return false;
  }

  // Needs a server: check `available()` first.
  PostgresTestSchema() : server_(server_url().value()) {
    static std::atomic<unsigned> made{0};
    std::random_device random;
    name_ = "test_" + std::to_string(::getpid()) + "_" + std::to_string(made++) + "_" +
            std::to_string(random() % 100000);
    execute("CREATE SCHEMA " + name_);
  }
  ~PostgresTestSchema() { execute("DROP SCHEMA IF EXISTS " + name_ + " CASCADE"); }
  PostgresTestSchema(const PostgresTestSchema&) = delete;
  PostgresTestSchema& operator=(const PostgresTestSchema&) = delete;

  // The server's URL, with the schema as the only one on the search_path.
  [[nodiscard]] std::string url() const {
    return server_ + (server_.find('?') == std::string::npos ? "?" : "&") +
           "options=-csearch_path%3D" + name_;
  }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  // Runs `sql` in the schema, behind the store's back; the first column of the first row as a
  // number (-1: no row).
  [[nodiscard]] long long query_int(const std::string& sql) const {
    PGconn* conn = PQconnectdb(url().c_str());
    long long value = -1;
    if (PQstatus(conn) == CONNECTION_OK) {
      PGresult* result = PQexec(conn, sql.c_str());
      const ExecStatusType status = PQresultStatus(result);
      CHECK_MESSAGE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK),
                    std::string(PQresultErrorMessage(result)));
      if (status == PGRES_TUPLES_OK && PQntuples(result) > 0)
        value = std::atoll(PQgetvalue(result, 0, 0));
      PQclear(result);
    } else {
      FAIL_CHECK("connecting to " << url() << ": " << std::string(PQerrorMessage(conn)));
    }
    PQfinish(conn);
    return value;
  }

private:
  static void ignore_notice(void*, const char*) {}

  void execute(const std::string& sql) const {
    PGconn* conn = PQconnectdb(server_.c_str());
    // CHECK, not REQUIRE: this runs in the destructor too, where a throw would terminate.
    CHECK_MESSAGE(PQstatus(conn) == CONNECTION_OK, std::string(PQerrorMessage(conn)));
    if (PQstatus(conn) != CONNECTION_OK) {
      PQfinish(conn);
      return;
    }
    PQsetNoticeProcessor(conn, ignore_notice, nullptr); // "drop cascades to ..."
    PGresult* result = PQexec(conn, sql.c_str());
    CHECK_MESSAGE(PQresultStatus(result) == PGRES_COMMAND_OK,
                  std::string(PQresultErrorMessage(result)));
    PQclear(result);
    PQfinish(conn);
  }

  std::string server_;
  std::string name_;
};

} // namespace actorflow::testing_support
