// The checkpoint stores' contract, on SQLite and PostgreSQL alike (support/each_store.hpp):
// round trips, upserts and counters, listing and deleting, newer schemas refused, many threads;
// and the SQLite files it must refuse (and leave alone).

#include <actorflow/checkpoint.hpp>

#include "checkpoint_support.hpp"
#include "store_support.hpp"
#include "support/each_store.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

ItemOutcome failed(std::size_t index, Error error, std::int64_t tokens) {
  ItemOutcome outcome;
  outcome.index = index;
  outcome.result.emplace<1>(std::move(error));
  outcome.attempts = 3;
  outcome.latency = 4200000us;
  outcome.tokens = tokens;
  return outcome;
}

void check_same(const ItemOutcome& stored, const ItemOutcome& expected) {
  CHECK(stored.index == expected.index);
  CHECK(stored.attempts == expected.attempts);
  CHECK(stored.latency == expected.latency);
  CHECK(stored.tokens == expected.tokens);
  REQUIRE(stored.ok() == expected.ok());
  if (expected.ok())
    CHECK(stored.value() == expected.value());
  else
    CHECK(stored.error() == expected.error());
}

} // namespace

TEST_CASE("run statuses have names") {
  CHECK(to_string(RunStatus::running) == "running");
  CHECK(to_string(RunStatus::succeeded) == "succeeded");
  CHECK(to_string(RunStatus::failed) == "failed");
  CHECK(to_string(RunStatus::cancelled) == "cancelled");
}

TEST_CASE_TEMPLATE("a run, its last step and its items round-trip through the store", Backend,
                   OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  const State initial = State().with("question", "why?").with("doc", nested());
  const State after_title = initial.with("title", "Report").with("sizes", Value::array({1, 2}));
  const State after_split = after_title.with("chunks", nested().at("chunks"));
  const std::vector<ItemCheckpoint> items{
      {"k-ok", succeeded(0, nested(), 120)},
      {"k-limited", failed(1, Error{Errc::rate_limited, "429 from the provider", 1500ms}, 7)},
      {"k-garbled", failed(2, Error{Errc::bad_response, "no 'choices' in the answer"}, 0)},
  };
  {
    CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
    must(store->begin_run("r1", "ingest", initial));

    const CheckpointStore::Resumable fresh = must(store->load_run("r1"));
    CHECK(fresh.record.run_id == "r1");
    CHECK(fresh.record.flow == "ingest");
    CHECK(fresh.record.status == RunStatus::running);
    CHECK(fresh.record.steps == 0);
    CHECK(fresh.initial == initial);
    CHECK_FALSE(fresh.last_step.has_value());
    CHECK(must(store->load_items("r1")).empty());

    must(store->commit_step("r1", StepCheckpoint{1, "title", "split", after_title}));
    must(store->commit_step("r1", StepCheckpoint{2, "split", "embed", after_split}));
    must(store->commit_items("r1", items));
  }

  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  const CheckpointStore::Resumable loaded = must(store->load_run("r1"));
  CHECK(loaded.record.status == RunStatus::running);
  CHECK(loaded.record.steps == 2);
  CHECK(loaded.record.last_node == "split");
  CHECK(loaded.record.next_node == "embed");
  CHECK(loaded.record.items_done == 3);
  CHECK(loaded.record.items_failed == 2);
  CHECK(loaded.record.tokens == 127);
  CHECK(loaded.record.created <= loaded.record.updated);
  CHECK(loaded.initial == initial);
  REQUIRE(loaded.last_step.has_value());
  CHECK(loaded.last_step->step == 2);
  CHECK(loaded.last_step->node == "split");
  CHECK(loaded.last_step->next_node == "embed");
  CHECK(loaded.last_step->state == after_split);

  const auto stored = must(store->load_items("r1"));
  REQUIRE(stored.size() == items.size());
  for (const ItemCheckpoint& item : items) {
    CAPTURE(item.key);
    REQUIRE(stored.contains(item.key));
    check_same(stored.at(item.key), item.outcome);
  }
  CHECK(stored.at("k-limited").error().retry_after == 1500ms);
  CHECK_FALSE(stored.at("k-garbled").error().retry_after.has_value());

  SUBCASE("ending and reopening a run") {
    must(store->end_run("r1", RunStatus::failed, "embed: connection refused"));
    RunRecord ended = record_of(*store, "r1");
    CHECK(ended.status == RunStatus::failed);
    CHECK(ended.error == "embed: connection refused");

    must(store->reopen_run("r1"));
    RunRecord reopened = record_of(*store, "r1");
    CHECK(reopened.status == RunStatus::running);
    CHECK(reopened.error.empty());
    CHECK(reopened.steps == 2); // a resume keeps what was committed
    CHECK(must(store->load_items("r1")).size() == 3);

    CHECK_FALSE(store->end_run("r1", RunStatus::running, "").ok());
  }
  SUBCASE("the last node of a flow has no next node") {
    must(store->commit_step("r1", StepCheckpoint{3, "embed", "", after_split}));
    const CheckpointStore::Resumable done = must(store->load_run("r1"));
    REQUIRE(done.last_step.has_value());
    CHECK(done.last_step->next_node.empty());
    CHECK(done.record.next_node.empty());
    CHECK(done.record.last_node == "embed");
  }
}

TEST_CASE_TEMPLATE("an outcome committed again under its key replaces the old one and counts once",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("r", "f", State()));
  const Error unavailable{Errc::unavailable, "503"};

  must(store->commit_items("r", {{"a", succeeded(0, "A", 10)}, {"b", failed(1, unavailable, 5)}}));
  RunRecord run = record_of(*store, "r");
  CHECK(run.items_done == 2);
  CHECK(run.items_failed == 1);
  CHECK(run.tokens == 15);

  // A resumed batch retries b and commits a again.
  must(store->commit_items("r", {{"b", succeeded(1, "B", 7)}, {"a", succeeded(0, "A", 10)}}));
  run = record_of(*store, "r");
  CHECK(run.items_done == 2);
  CHECK(run.items_failed == 0);
  CHECK(run.tokens == 17);
  CHECK(must(store->load_items("r")).at("b").value() == Value("B"));

  // Twice in one call: the later wins.
  must(store->commit_items("r", {{"c", failed(2, unavailable, 1)}, {"c", succeeded(2, "C", 4)}}));
  run = record_of(*store, "r");
  CHECK(run.items_done == 3);
  CHECK(run.items_failed == 0);
  CHECK(run.tokens == 21);
  const auto items = must(store->load_items("r"));
  CHECK(items.size() == 3);
  CHECK(items.at("c").value() == Value("C"));

  must(store->commit_items("r", {{"a", failed(0, unavailable, 0)}}));
  run = record_of(*store, "r");
  CHECK(run.items_done == 3);
  CHECK(run.items_failed == 1);
  CHECK(run.tokens == 11);

  must(store->commit_items("r", {}));
  CHECK(record_of(*store, "r").items_done == 3);
}

TEST_CASE_TEMPLATE("runs are listed newest first, each with its own counters", Backend, OnSqlite,
                   OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  CHECK(must(store->list_runs()).empty());

  must(store->begin_run("first", "ingest", State()));
  must(store->begin_run("second", "summarise", State()));
  must(store->begin_run("third", "ingest", State()));
  must(store->commit_items(
      "second", {{"x", succeeded(0, 1, 3)}, {"y", failed(1, Error{Errc::timeout, "slow"}, 2)}}));
  must(store->commit_step("third", StepCheckpoint{1, "load", "split", State().with("n", 1)}));
  must(store->end_run("first", RunStatus::succeeded, ""));
  must(store->end_run("second", RunStatus::cancelled, "cancelled by the host"));

  const std::vector<RunRecord> runs = must(store->list_runs());
  REQUIRE(ids_of(runs) == std::vector<std::string>{"third", "second", "first"});
  CHECK(runs[0].created >= runs[1].created);
  CHECK(runs[1].created >= runs[2].created);

  CHECK(runs[0].flow == "ingest");
  CHECK(runs[0].status == RunStatus::running);
  CHECK(runs[0].steps == 1);
  CHECK(runs[0].last_node == "load");
  CHECK(runs[0].next_node == "split");
  CHECK(runs[0].items_done == 0);

  CHECK(runs[1].flow == "summarise");
  CHECK(runs[1].status == RunStatus::cancelled);
  CHECK(runs[1].error == "cancelled by the host");
  CHECK(runs[1].steps == 0);
  CHECK(runs[1].items_done == 2);
  CHECK(runs[1].items_failed == 1);
  CHECK(runs[1].tokens == 5);

  CHECK(runs[2].status == RunStatus::succeeded);
  CHECK(runs[2].error.empty());
  CHECK(runs[2].items_done == 0);

  // Another connection (`actorflow runs list` in another process) sees the same.
  CheckpointStorePtr reader = must(open_checkpoint_store(where->location()));
  CHECK(ids_of(must(reader->list_runs())) == ids_of(runs));
}

TEST_CASE_TEMPLATE("delete_runs deletes the named runs with everything under them", Backend,
                   OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  for (const char* id : {"a", "b", "c"}) {
    must(store->begin_run(id, "f", State().with("id", id)));
    must(store->commit_step(id, StepCheckpoint{1, "n", "m", State()}));
    must(store->commit_items(id, {{"k", succeeded(0, id, 1)}}));
  }

  CHECK(must(store->delete_runs({"a", "c", "not-there", "a"})) == 2);
  CHECK(ids_of(must(store->list_runs())) == std::vector<std::string>{"b"});
  CHECK_FALSE(store->load_run("a").ok());
  CHECK_FALSE(store->load_items("c").ok());
  CHECK(must(store->load_items("b")).at("k").value() == Value("b"));
  CHECK(must(store->delete_runs({})) == 0);

  // Nothing of the old run is found under its id again.
  must(store->begin_run("a", "f2", State()));
  const CheckpointStore::Resumable again = must(store->load_run("a"));
  CHECK(again.record.flow == "f2");
  CHECK(again.record.items_done == 0);
  CHECK_FALSE(again.last_step.has_value());
  CHECK(must(store->load_items("a")).empty());
}

TEST_CASE_TEMPLATE("delete_ended_before deletes the runs that ended before the time, only those",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  for (const char* id : {"done", "broken", "live", "resumed"}) {
    must(store->begin_run(id, "f", State()));
    must(store->commit_items(id, {{"k", succeeded(0, 1, 1)}}));
  }
  must(store->end_run("done", RunStatus::succeeded, ""));
  must(store->end_run("broken", RunStatus::failed, "boom"));
  must(store->end_run("resumed", RunStatus::failed, "boom"));
  must(store->reopen_run("resumed"));

  const auto now = std::chrono::system_clock::now();
  CHECK(must(store->delete_ended_before(now - 1h)) == 0);
  CHECK(must(store->list_runs()).size() == 4);

  CHECK(must(store->delete_ended_before(now + 1h)) == 2);
  std::vector<std::string> left = ids_of(must(store->list_runs()));
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"live", "resumed"});
  CHECK(must(store->load_items("live")).size() == 1);
  CHECK_FALSE(store->load_items("done").ok());
}

TEST_CASE_TEMPLATE("an unknown run id is an error naming the id and the store", Backend, OnSqlite,
                   OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("real", "f", State()));
  const std::string expected = "no run 'ghost' in " + where->name();

  auto check_no_run = [&](const Error& error) {
    CHECK(error.code == Errc::bad_input);
    CHECK(error.message == expected);
  };
  check_no_run(store->load_run("ghost").error());
  check_no_run(store->load_items("ghost").error());
  check_no_run(store->reopen_run("ghost").error());
  check_no_run(store->commit_step("ghost", StepCheckpoint{1, "a", "b", State()}).error());
  check_no_run(store->commit_items("ghost", {{"k", succeeded(0, 1, 1)}}).error());
  check_no_run(store->end_run("ghost", RunStatus::failed, "").error());

  // The failed commits left nothing behind.
  CHECK(ids_of(must(store->list_runs())) == std::vector<std::string>{"real"});
}

TEST_CASE_TEMPLATE("begin_run refuses an id that is already recorded, and an empty one", Backend,
                   OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("r", "first-flow", State().with("v", 1)));
  must(store->commit_items("r", {{"k", succeeded(0, 1, 1)}}));

  Result<void> again = store->begin_run("r", "second-flow", State().with("v", 2));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::bad_input);
  CHECK(again.error().message == where->name() + ": begin_run: run 'r' is already recorded");

  const CheckpointStore::Resumable kept = must(store->load_run("r"));
  CHECK(kept.record.flow == "first-flow");
  CHECK(kept.initial == State().with("v", 1));
  CHECK(kept.record.items_done == 1);

  Result<void> empty = store->begin_run("", "f", State());
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::bad_input);
  CHECK(contains(empty.error().message, "run id is empty"));
}

TEST_CASE("a file that is not a sound database is refused and left as it was") {
  TempDb file{"runs.db"};
  SUBCASE("random bytes") { write_text(file.str(), garbage(8192, 1)); }
  SUBCASE("text") { write_text(file.str(), "run,status\nr1,running\n"); }
  SUBCASE("a checkpoint store with damaged pages") {
    {
      CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
      must(store->begin_run("r", "f", State()));
      std::vector<ItemCheckpoint> items;
      for (std::size_t i = 0; i < 500; ++i)
        items.push_back({"key-" + std::to_string(i), succeeded(i, nested(), 1)});
      must(store->commit_items("r", items));
    } // closing checkpoints the WAL into the file
    REQUIRE(fs::file_size(file.str()) > 16384);
    write_file(file.str(), garbage(8192, 2), 4096); // keeps the header, breaks pages 2 and up
  }
  const std::string before = read_text(file.str());

  check_refused(file.str(), "not a usable database (");
  check_refused(file.str(), "left as it is");
  CHECK(read_text(file.str()) == before);
  CHECK_FALSE(fs::exists(file.str() + ".corrupt"));
}

TEST_CASE("another program's database is refused and left as it was") {
  TempDb file{"runs.db"};
  SUBCASE("tables of its own") {
    run_sql(file.str(), "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                        "CREATE TABLE tags (note INTEGER, tag TEXT);"
                        "INSERT INTO notes (body) VALUES ('buy milk');");
    const std::string before = read_text(file.str());
    check_refused(file.str(), "not an actorflow checkpoint store: it holds another program's "
                              "tables (notes, tags)");
    CHECK(read_text(file.str()) == before);
    CHECK_FALSE(fs::exists(file.str() + "-wal")); // not even switched to WAL
  }
  SUBCASE("a meta table naming another application") {
    run_sql(file.str(), "CREATE TABLE actorflow_meta (key TEXT PRIMARY KEY, value);"
                        "INSERT INTO actorflow_meta VALUES ('application', 'someone-else');");
    const std::string before = read_text(file.str());
    check_refused(file.str(),
                  "not an actorflow checkpoint store: its actorflow_meta table names the "
                  "application 'someone-else'");
    CHECK(read_text(file.str()) == before);
  }
  SUBCASE("an empty file is not foreign: it becomes a store") {
    write_text(file.str(), "");
    CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
    must(store->begin_run("r", "f", State()));
    CHECK(must(store->list_runs()).size() == 1);
  }
}

TEST_CASE_TEMPLATE("a store written by a newer schema version is refused, naming both versions",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  {
    CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
    must(store->begin_run("r", "f", State()));
  }
  const std::string newer = std::to_string(checkpoint_schema_version + 1);
  // An integer in SQLite, text in PostgreSQL's meta table.
  const std::string value = where->is_postgres() ? "'" + newer + "'" : newer;
  (void)where->query_int("UPDATE actorflow_meta SET value = " + value +
                         " WHERE key = 'schema_version'");

  const std::string says = "checkpoint schema version " + newer +
                           " is newer than this actorflow's (version " +
                           std::to_string(checkpoint_schema_version) + ")";
  check_refused(where->location(), says);
  check_refused(where->location(), says); // and the refusal changed nothing
}

TEST_CASE_TEMPLATE("four threads committing items at once lose none", Backend, OnSqlite,
                   OnPostgres) {
  constexpr int threads = 4;
  constexpr int batches = 30;
  constexpr int per_batch = 25;
  const auto where = fresh_store<Backend>();
  if (!where)
    return;

  auto hammer = [&](std::vector<CheckpointStore*> stores) {
    must(stores.front()->begin_run("r", "f", State()));
    std::vector<std::thread> workers;
    std::vector<int> errors(threads, 0);
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        CheckpointStore& store = *stores[static_cast<std::size_t>(t) % stores.size()];
        for (int b = 0; b < batches; ++b) {
          std::vector<ItemCheckpoint> items;
          for (int i = 0; i < per_batch; ++i) {
            const int n = (t * batches + b) * per_batch + i;
            const auto index = static_cast<std::size_t>(n);
            std::string key = "t" + std::to_string(t) + "-" + std::to_string(n);
            items.push_back({std::move(key), n % 7 == 0
                                                 ? failed(index, Error{Errc::timeout, "slow"}, 2)
                                                 : succeeded(index, n, 2)});
          }
          // Every thread also commits one key they all share: it must count once.
          items.push_back({"shared", succeeded(0, t, 1)});
          if (!store.commit_items("r", items).ok())
            ++errors[static_cast<std::size_t>(t)];
        }
      });
    }
    for (std::thread& worker : workers)
      worker.join();
    CHECK(errors == std::vector<int>(threads, 0));

    constexpr int distinct = threads * batches * per_batch;
    int failures = 0;
    for (int n = 0; n < distinct; ++n)
      failures += n % 7 == 0 ? 1 : 0;
    const auto items = must(stores.front()->load_items("r"));
    CHECK(items.size() == std::size_t{distinct + 1});
    const RunRecord run = record_of(*stores.back(), "r");
    CHECK(run.items_done == std::uint64_t{distinct + 1});
    CHECK(run.items_failed == static_cast<std::uint64_t>(failures));
    CHECK(run.tokens == std::uint64_t{distinct * 2 + 1});
    CHECK(items.at("t2-" + std::to_string(2 * batches * per_batch + 6)).value() ==
          Value(2 * batches * per_batch + 6));
  };

  SUBCASE("on one store object") {
    CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
    hammer({store.get()});
  }
  SUBCASE("on two objects, two connections to one store") {
    CheckpointStorePtr first = must(open_checkpoint_store(where->location()));
    CheckpointStorePtr second = must(open_checkpoint_store(where->location()));
    hammer({first.get(), second.get()});
  }
}

TEST_CASE("item keys are 32 hex digits that change with the node path, version or input") {
  const Value input = Value::object({{"doc", "a.txt"}, {"size", 12}});
  const std::string key = checkpoint_item_key("outer/summarise", "v1", input);
  CHECK(key.size() == 32);
  CHECK(std::all_of(key.begin(), key.end(),
                    [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }));
  CHECK(checkpoint_item_key("outer/summarise", "v1", input) == key);

  CHECK(checkpoint_item_key("outer/summarize", "v1", input) != key);
  CHECK(checkpoint_item_key("outer/summarise", "v2", input) != key);
  CHECK(checkpoint_item_key("outer/summarise", "v1",
                            Value::object({{"doc", "b.txt"}, {"size", 12}})) != key);
  CHECK(checkpoint_item_key("n", "", 1) !=
        checkpoint_item_key("n", "", 1.0)); // msgpack tells int from double
  CHECK(checkpoint_item_key("n", "", 1) != checkpoint_item_key("n", "", "1"));

  SUBCASE("the parts cannot run into each other") {
    CHECK(checkpoint_item_key("ab", "c", nullptr) != checkpoint_item_key("a", "bc", nullptr));
    // Run together, both are "a" 0xa1 0x62: msgpack writes "b" as 0xa1 0x62 and 98 as 0x62.
    CHECK(checkpoint_item_key("a", "", "b") != checkpoint_item_key("a", "\xa1", 98));
  }
  SUBCASE("keys are stable across builds and machines: a resume must find its items") {
    // FNV-1a-128 of 9:"summarise" 1:"1" 4:msgpack("doc") (lengths as 8 bytes, little-endian),
    // as an independent implementation computes it.
    CHECK(checkpoint_item_key("summarise", "1", "doc") == "1bd75f5ba3ed375f738136c0731c7f3d");
  }
}
