// IngestCache and DocStore: round trips, keys, persistence, corrupt files, many threads.

#include <actorflow/ingest.hpp>

#include "store_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
namespace fs = std::filesystem;

namespace {} // namespace

TEST_CASE("a cached value round-trips, nested as it is") {
  IngestCache cache = must(IngestCache::open(":memory:"));
  CHECK_FALSE(cache.rebuilt());
  const std::string key = IngestCache::key("summarize", R"({"model":"m"})", "sha256:ab12");
  CHECK_FALSE(cache.get(key).has_value());

  must(cache.put(key, nested()));
  CHECK(cache.get(key) == nested());
  CHECK(cache.size() == 1);

  must(cache.put(key, Value("replaced")));
  CHECK(cache.get(key) == Value("replaced"));
  CHECK(cache.size() == 1);

  SUBCASE("an empty key is a key") {
    must(cache.put("", 7));
    CHECK(cache.get("") == Value(7));
  }
  SUBCASE("clear empties the cache") {
    must(cache.clear());
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.get(key).has_value());
  }
}

TEST_CASE("a changed transformation, setting or input misses the cache") {
  IngestCache cache = must(IngestCache::open(":memory:"));
  must(cache.put(IngestCache::key("chunk", R"({"size":512})", "h1"), "chunks"));
  CHECK(cache.get(IngestCache::key("chunk", R"({"size":512})", "h1")).has_value());

  CHECK_FALSE(cache.get(IngestCache::key("chunk", R"({"size":256})", "h1")).has_value());
  CHECK_FALSE(cache.get(IngestCache::key("chunk", R"({"size":512})", "h2")).has_value());
  CHECK_FALSE(cache.get(IngestCache::key("embed", R"({"size":512})", "h1")).has_value());

  SUBCASE("no two splits of the same text make the same key") {
    CHECK(IngestCache::key("a b", "c", "d") != IngestCache::key("a", "b c", "d"));
    CHECK(IngestCache::key("a", "b", "c d") != IngestCache::key("a", "b c", "d"));
    CHECK(IngestCache::key("1:a", "", "") != IngestCache::key("", "1:a", ""));
  }
}

TEST_CASE("a cache in a file keeps its entries across a reopen") {
  TempDb file;
  const std::string key = IngestCache::key("ocr", "{}", "h");
  {
    IngestCache cache = must(IngestCache::open(file.str()));
    CHECK(cache.path() == file.str());
    must(cache.put(key, nested()));
  }
  IngestCache cache = must(IngestCache::open(file.str()));
  CHECK_FALSE(cache.rebuilt());
  CHECK(cache.get(key) == nested());
  CHECK(cache.size() == 1);

  SUBCASE("a document store shares the file") {
    DocStore docs = must(DocStore::open(file.str()));
    CHECK(must(docs.upsert("a.txt", "h", Value::object({}))) == DocStore::Change::added);
    CHECK(cache.size() == 1);
    CHECK(docs.size() == 1);
  }
}

TEST_CASE("a corrupt file is set aside and replaced by an empty cache") {
  TempDb file;
  const std::string key = IngestCache::key("ocr", "{}", "h");

  SUBCASE("random bytes") { write_file(file.str(), garbage(8192, 1)); }
  SUBCASE("text") { write_file(file.str(), "not a db\n"); }
  SUBCASE("a real database with damaged pages") {
    {
      IngestCache cache = must(IngestCache::open(file.str()));
      for (int i = 0; i < 500; ++i)
        must(cache.put(IngestCache::key("ocr", "{}", std::to_string(i)), nested()));
    } // closing checkpoints the WAL into the file
    REQUIRE(fs::file_size(file.str()) > 16384);
    write_file(file.str(), garbage(8192, 2), 4096); // keeps the header, breaks pages 2 and up
  }

  IngestCache cache = must(IngestCache::open(file.str()));
  CHECK(cache.rebuilt());
  INFO(cache.rebuild_report());
  CHECK(contains(cache.rebuild_report(), file.str() + ": not a usable database ("));
  CHECK(contains(cache.rebuild_report(), "moved it to " + file.str() + ".corrupt"));
  CHECK(fs::exists(file.str() + ".corrupt"));
  CHECK(cache.size() == 0);
  must(cache.put(key, 1));
  CHECK(cache.get(key) == Value(1));

  // The fresh file is a sound database: the next open finds nothing wrong.
  IngestCache again = must(IngestCache::open(file.str()));
  CHECK_FALSE(again.rebuilt());
  CHECK(again.get(key) == Value(1));
}

TEST_CASE("a document store rebuilds a corrupt file too") {
  TempDb file;
  write_file(file.str(), garbage(4096, 3));
  DocStore docs = must(DocStore::open(file.str()));
  CHECK(docs.rebuilt());
  CHECK(contains(docs.rebuild_report(), file.str()));
  CHECK(must(docs.upsert("a", "h", nullptr)) == DocStore::Change::added);
}

TEST_CASE("a path that cannot be opened is an error naming it") {
  const std::string path =
      (fs::temp_directory_path() / "actorflow-no-such-dir" / "sub" / "cache.db").string();
  Result<IngestCache> cache = IngestCache::open(path);
  REQUIRE_FALSE(cache.ok());
  CHECK(cache.error().code == Errc::bad_input);
  CHECK(contains(cache.error().message, path + ": open: unable to open database file"));
}

TEST_CASE("a stored value that no longer decodes is a miss, and is removed") {
  TempDb file;
  const std::string key = IngestCache::key("ocr", "{}", "h");
  {
    IngestCache cache = must(IngestCache::open(file.str()));
    must(cache.put(key, nested()));
    must(cache.put("other", 2));
  }
  // 0xc1 is the one byte msgpack never uses.
  run_sql(file.str(), "UPDATE ingest_cache SET value = x'c1' WHERE key <> 'other'");

  IngestCache cache = must(IngestCache::open(file.str()));
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.get(key).has_value());
  CHECK(cache.size() == 1);
  CHECK(cache.get("other") == Value(2));
}

TEST_CASE("eight threads put and get at once") {
  constexpr int threads = 8;
  constexpr int per_thread = 150;
  TempDb file;

  auto hammer = [&](std::vector<IngestCache*> caches) {
    std::atomic<int> wrong{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        IngestCache& cache = *caches[static_cast<std::size_t>(t) % caches.size()];
        for (int i = 0; i < per_thread; ++i) {
          const std::string key = IngestCache::key("t", std::to_string(t), std::to_string(i));
          const Value value = Value::object({{"thread", t}, {"i", i}});
          if (!cache.put(key, value).ok() || cache.get(key) != value)
            ++wrong;
          // Another thread's key: present or not yet, but never something else.
          const int other = (t + 1) % threads;
          const std::optional<Value> seen =
              cache.get(IngestCache::key("t", std::to_string(other), std::to_string(i)));
          if (seen && *seen != Value::object({{"thread", other}, {"i", i}}))
            ++wrong;
        }
      });
    }
    for (std::thread& worker : workers)
      worker.join();
    CHECK(wrong.load() == 0);
    CHECK(caches.front()->size() == std::size_t{threads * per_thread});
  };

  SUBCASE("on one cache object") {
    IngestCache cache = must(IngestCache::open(file.str()));
    hammer({&cache});
  }
  SUBCASE("on two objects, two connections to one file") {
    IngestCache first = must(IngestCache::open(file.str()));
    IngestCache second = must(IngestCache::open(file.str()));
    hammer({&first, &second});
  }
}

TEST_CASE("a document store tells added, unchanged and changed apart") {
  DocStore docs = must(DocStore::open(":memory:"));
  const Value meta = Value::object({{"source", "s3://bucket/a.pdf"}});

  CHECK(must(docs.upsert("a.pdf", "h1", meta)) == DocStore::Change::added);
  CHECK(must(docs.upsert("a.pdf", "h1", meta)) == DocStore::Change::unchanged);
  CHECK(docs.hash_of("a.pdf") == "h1");
  CHECK(must(docs.upsert("a.pdf", "h2", meta)) == DocStore::Change::changed);
  CHECK(docs.hash_of("a.pdf") == "h2");
  CHECK_FALSE(docs.hash_of("b.pdf").has_value());
  CHECK(docs.metadata_of("a.pdf") == meta);
  CHECK_FALSE(docs.metadata_of("b.pdf").has_value());
  CHECK(docs.size() == 1);
  CHECK(to_string(DocStore::Change::unchanged) == "unchanged");

  SUBCASE("new metadata is stored even when the content is unchanged") {
    const Value moved = Value::object({{"source", "s3://bucket/new/a.pdf"}});
    CHECK(must(docs.upsert("a.pdf", "h2", moved)) == DocStore::Change::unchanged);
    CHECK(docs.metadata_of("a.pdf") == moved);
  }
}

TEST_CASE("remove_missing deletes the documents that are gone and names them") {
  TempDb file;
  {
    DocStore docs = must(DocStore::open(file.str()));
    for (const char* id : {"d", "a", "c", "b", "e"})
      CHECK(must(docs.upsert(id, "h", nullptr)) == DocStore::Change::added);
  }
  DocStore docs = must(DocStore::open(file.str()));
  CHECK(docs.size() == 5);

  const std::vector<std::string> gone = must(docs.remove_missing({"a", "c", "not-stored"}));
  CHECK(gone == std::vector<std::string>{"b", "d", "e"});
  CHECK(docs.size() == 2);
  CHECK(docs.hash_of("a") == "h");
  CHECK_FALSE(docs.hash_of("b").has_value());

  CHECK(must(docs.remove_missing({"a", "c"})).empty());
  CHECK(must(docs.remove_missing({})) == std::vector<std::string>{"a", "c"});
  CHECK(docs.size() == 0);
}
