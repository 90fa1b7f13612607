#pragma once
// What the store tests share: a fresh database path, and ways to damage or tamper with a file
// behind a store's back.
#include "support/test_support.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <fstream>
#include <random>
#include <string>
#include <string_view>

namespace actorflow::testing_support {

// A database path in a fresh directory, which goes with everything SQLite or a rebuild put
// beside the file ("-wal", "-shm", ".corrupt").
class TempDb {
public:
  explicit TempDb(std::string name = "store.db") : name_(std::move(name)) {}
  [[nodiscard]] std::string str() const { return (dir_.path() / name_).string(); }

private:
  TempDir dir_;
  std::string name_;
};

// Writes `bytes` at `offset`, into an existing file or a new one.
inline void write_file(const std::string& path, std::string_view bytes, std::size_t offset = 0) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  if (!file.is_open()) // a new file
    file.open(path, std::ios::binary | std::ios::out | std::ios::trunc);
  REQUIRE(file.is_open());
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(file.good());
}

// `size` random bytes, the same for the same seed.
inline std::string garbage(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes)
    byte = static_cast<char>(random() & 0xff);
  return bytes;
}

// Runs `sql` on the file with the plain C API: another program, or a hand that tampers.
inline void run_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  CHECK_MESSAGE(rc == SQLITE_OK, sqlite3_errmsg(db));
  sqlite3_close(db);
}

// A Value of every kind, nested, to round-trip through a store.
inline Value nested() {
  return Value::object({
      {"title", "Annual report"},
      {"pages", 42},
      {"score", 0.75},
      {"draft", false},
      {"owner", nullptr},
      {"bytes", Binary{{0, 1, 254, 255}}},
      {"chunks", Value::array({Value::object({{"text", "first"}, {"tokens", 3}}),
                               Value::array({1, "two", 3.0}), Value::object({})})},
  });
}

} // namespace actorflow::testing_support
