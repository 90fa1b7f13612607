// What only the PostgreSQL checkpoint store has: a URL, which may hold a password that no
// error repeats; a server that cannot be reached; a schema shared with another program; a
// session the server dropped. The contract both stores keep is tested on both elsewhere
// (support/each_store.hpp).

#include <actorflow/checkpoint.hpp>

#include "support/postgres_test_schema.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <string>

using namespace actorflow;
using namespace actorflow::testing_support;

namespace {

// A loopback port bound and never listened on: a connection to it is refused at once, and no
// other program can take the port while the socket lives.
class DeadPort {
public:
  DeadPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~DeadPort() { ::close(fd_); }
  DeadPort(const DeadPort&) = delete;
  DeadPort& operator=(const DeadPort&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }

private:
  int fd_ = -1;
  int port_ = 0;
};

} // namespace

TEST_CASE("a server that cannot be reached is unavailable, named without the password") {
  DeadPort dead;
  const std::string host = "127.0.0.1:" + std::to_string(dead.port());
  SUBCASE("a password in the user info") {
    Result<CheckpointStorePtr> store =
        open_checkpoint_store("postgresql://runner:hunter2@" + host + "/runs");
    REQUIRE_FALSE(store.ok());
    INFO(store.error().message);
    CHECK(store.error().code == Errc::unavailable);
    CHECK(contains(store.error().message, "postgresql://runner@" + host + "/runs: connecting: "));
    CHECK_FALSE(contains(store.error().message, "hunter2"));
  }
  SUBCASE("a password as a parameter, and the short scheme") {
    Result<CheckpointStorePtr> store = open_checkpoint_store(
        "postgres://runner@" + host + "/runs?password=hunter2&connect_timeout=5");
    REQUIRE_FALSE(store.ok());
    INFO(store.error().message);
    CHECK(store.error().code == Errc::unavailable);
    CHECK(contains(store.error().message,
                   "postgres://runner@" + host + "/runs?connect_timeout=5: connecting: "));
    CHECK_FALSE(contains(store.error().message, "hunter2"));
  }
}

TEST_CASE("a schema that holds another program's tables is refused and left as it was") {
  if (!PostgresTestSchema::available())
    return;
  PostgresTestSchema schema;
  (void)schema.query_int("CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT);"
                         "INSERT INTO notes VALUES (1, 'buy milk')");
  Result<CheckpointStorePtr> store = open_checkpoint_store(schema.url());
  REQUIRE_FALSE(store.ok());
  INFO(store.error().message);
  CHECK(store.error().code == Errc::bad_input);
  CHECK(contains(store.error().message, schema.url() +
                                            ": not an actorflow checkpoint store: "
                                            "schema '" +
                                            schema.name() +
                                            "' holds another program's tables "
                                            "(notes)"));
  CHECK(schema.query_int("SELECT count(*) FROM notes") == 1);
  CHECK(schema.query_int("SELECT count(*) FROM pg_tables WHERE schemaname = '" + schema.name() +
                         "'") == 1); // no table of ours was made
}

TEST_CASE("a search_path that names no schema is an error saying so") {
  if (!PostgresTestSchema::available())
    return;
  const std::string url = PostgresTestSchema::server_url().value();
  const std::string missing =
      url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3Dnone_such";
  Result<CheckpointStorePtr> store = open_checkpoint_store(missing);
  REQUIRE_FALSE(store.ok());
  INFO(store.error().message);
  CHECK(store.error().code == Errc::bad_input);
  CHECK(contains(store.error().message, "no schema to create the tables in"));
}

TEST_CASE("a store whose session the server ended connects again on its next call") {
  if (!PostgresTestSchema::available())
    return;
  PostgresTestSchema schema;
  const std::string application = "victim_" + schema.name();
  CheckpointStorePtr store =
      must(open_checkpoint_store(schema.url() + "&application_name=" + application));
  must(store->begin_run("r", "f", State()));

  // Waits until the session has ended (PostgreSQL 14's timeout argument). In the select list,
  // not the WHERE clause: only the rows that passed the filter are terminated.
  CHECK(schema.query_int("SELECT pg_terminate_backend(pid, 10000)::int FROM pg_stat_activity "
                         "WHERE application_name = '" +
                         application + "'") == 1);

  // The call that finds the session gone fails, as a call the server cut would; the next one
  // runs on a new session, with its statements prepared again.
  Result<void> cut = store->commit_items("r", {});
  if (!cut.ok())
    CHECK(cut.error().code == Errc::unavailable);
  must(store->commit_step("r", StepCheckpoint{1, "a", "b", State().with("n", 1)}));
  CHECK(must(store->load_run("r")).record.steps == 1);
}
