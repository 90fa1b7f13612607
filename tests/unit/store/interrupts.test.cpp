// The interrupts of the checkpoint stores, on SQLite and PostgreSQL alike: round trips in raise
// order, answers that win once across stores, counts in the run listing, deletion with their
// run; and, SQLite only, a tampered question and the v1 upgrade.

#include <actorflow/checkpoint.hpp>
#include <actorflow/interrupt.hpp>

#include "checkpoint_support.hpp"
#include "store_support.hpp"
#include "support/each_store.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;
using namespace std::chrono_literals;

// -- interrupts ----------------------------------------------------------------------------------

namespace {

Interrupt asked(std::string id, std::string node, std::optional<std::size_t> item, Value question) {
  return Interrupt{std::move(id),       std::move(node),          item,
                   std::move(question), InterruptStatus::pending, Value()};
}

std::vector<std::string> ids_of(const std::vector<Interrupt>& interrupts) {
  std::vector<std::string> ids;
  ids.reserve(interrupts.size());
  for (const Interrupt& interrupt : interrupts)
    ids.push_back(interrupt.id);
  return ids;
}

} // namespace

TEST_CASE_TEMPLATE("interrupts round-trip, with an item and without, in the order first saved",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  {
    CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
    must(store->begin_run("r", "review", State()));
    CHECK(must(store->load_interrupts("r")).empty());
    must(store->save_interrupt("r", asked("q-b", "outer/approve", 4, nested())));
    must(store->save_interrupt("r", asked("q-a", "confirm", std::nullopt, "delete 3 files?")));
    must(store->save_interrupt("r", asked("q-c", "outer/approve", 0, Value::array({1, 2}))));
    // Saved again, answered: it keeps its place.
    Interrupt answered = asked("q-b", "outer/approve", 4, nested());
    answered.status = InterruptStatus::answered;
    answered.answer = Value::object({{"approve", true}});
    must(store->save_interrupt("r", answered));
  }

  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  const std::vector<Interrupt> loaded = must(store->load_interrupts("r"));
  REQUIRE(ids_of(loaded) == std::vector<std::string>{"q-b", "q-a", "q-c"});
  CHECK(loaded[0].node == "outer/approve");
  CHECK(loaded[0].item == std::optional<std::size_t>{4});
  CHECK(loaded[0].question == nested());
  CHECK(loaded[0].status == InterruptStatus::answered);
  CHECK(loaded[0].answer == Value::object({{"approve", true}}));
  CHECK(loaded[1].node == "confirm");
  CHECK_FALSE(loaded[1].item.has_value());
  CHECK(loaded[1].question == Value("delete 3 files?"));
  CHECK(loaded[1].status == InterruptStatus::pending);
  CHECK(loaded[1].answer.is_null());
  CHECK(loaded[2].item == std::optional<std::size_t>{0}); // item 0 is an item, not none
  CHECK(record_of(*store, "r").pending_interrupts == 2);

  SUBCASE("every status is stored and read back") {
    for (InterruptStatus status : {InterruptStatus::expired, InterruptStatus::cancelled,
                                   InterruptStatus::pending, InterruptStatus::defaulted}) {
      Interrupt interrupt = asked("q-a", "confirm", std::nullopt, "delete 3 files?");
      interrupt.status = status;
      must(store->save_interrupt("r", interrupt));
      CHECK(must(store->load_interrupts("r"))[1].status == status);
    }
    // An answer stays: once answered or defaulted, a later save (a replay raising it again,
    // a cancel elsewhere) changes nothing.
    for (InterruptStatus status :
         {InterruptStatus::pending, InterruptStatus::cancelled, InterruptStatus::answered}) {
      Interrupt interrupt = asked("q-a", "confirm", std::nullopt, "delete 3 files?");
      interrupt.status = status;
      must(store->save_interrupt("r", interrupt));
      CHECK(must(store->load_interrupts("r"))[1].status == InterruptStatus::defaulted);
    }
    auto gone = store->save_interrupt("nope", asked("q-a", "confirm", std::nullopt, "?"));
    REQUIRE_FALSE(gone.ok());
    CHECK(contains(gone.error().message, "no run 'nope'"));
  }
  SUBCASE("an interrupted run is read back as interrupted") {
    must(store->end_run("r", RunStatus::interrupted, ""));
    CHECK(to_string(RunStatus::interrupted) == "interrupted");
    CHECK(record_of(*store, "r").status == RunStatus::interrupted);
    CHECK(must(store->list_runs())[0].status == RunStatus::interrupted);
  }
}

TEST_CASE_TEMPLATE("answer_interrupt answers a pending interrupt once, and says why it cannot",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("r", "review", State()));
  must(store->save_interrupt("r", asked("q1", "approve", 2, "ok?")));
  must(store->save_interrupt("r", asked("q2", "approve", 3, "ok?")));

  must(store->answer_interrupt("r", "q1", Value::object({{"approve", "yes"}})));
  std::vector<Interrupt> loaded = must(store->load_interrupts("r"));
  CHECK(loaded[0].status == InterruptStatus::answered);
  CHECK(loaded[0].answer == Value::object({{"approve", "yes"}}));
  CHECK(loaded[0].question == Value("ok?"));
  CHECK(loaded[1].status == InterruptStatus::pending);
  CHECK(record_of(*store, "r").pending_interrupts == 1);

  auto check_refused_answer = [&](std::string_view run, std::string_view id,
                                  const std::string& expected) {
    Result<void> answered = store->answer_interrupt(run, id, "no");
    REQUIRE_FALSE(answered.ok());
    CHECK(answered.error().code == Errc::bad_input);
    CHECK(answered.error().message == expected);
  };
  check_refused_answer("r", "q1",
                       "interrupt 'q1' of run 'r' is not pending: it was already answered");
  CHECK(must(store->load_interrupts("r"))[0].answer == Value::object({{"approve", "yes"}}));
  check_refused_answer("r", "ghost", "no interrupt 'ghost' in run 'r'");
  check_refused_answer("nope", "q1", "no run 'nope' in " + where->name());

  Interrupt expired = asked("q2", "approve", 3, "ok?");
  expired.status = InterruptStatus::expired;
  must(store->save_interrupt("r", expired));
  check_refused_answer("r", "q2", "interrupt 'q2' of run 'r' is not pending: it expired");
  Interrupt cancelled = asked("q3", "approve", 4, "ok?");
  cancelled.status = InterruptStatus::cancelled;
  must(store->save_interrupt("r", cancelled));
  check_refused_answer("r", "q3", "interrupt 'q3' of run 'r' is not pending: it was cancelled");
  CHECK(record_of(*store, "r").pending_interrupts == 0);
}

TEST_CASE_TEMPLATE("an unknown run has no interrupts to save, answer or load", Backend, OnSqlite,
                   OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("real", "f", State()));
  const std::string expected = "no run 'ghost' in " + where->name();
  for (const Error& error : {store->save_interrupt("ghost", asked("q", "n", 1, 1)).error(),
                             store->answer_interrupt("ghost", "q", 1).error(),
                             store->load_interrupts("ghost").error()}) {
    CHECK(error.code == Errc::bad_input);
    CHECK(error.message == expected);
  }
  CHECK(must(store->load_interrupts("real")).empty()); // nothing landed anywhere

  Result<void> no_id = store->save_interrupt("real", asked("", "n", 1, 1));
  REQUIRE_FALSE(no_id.ok());
  CHECK(contains(no_id.error().message, "interrupt id is empty"));
}

TEST_CASE_TEMPLATE("two stores answering one interrupt at once: exactly one wins", Backend,
                   OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr first = must(open_checkpoint_store(where->location()));
  CheckpointStorePtr second = must(open_checkpoint_store(where->location()));
  must(first->begin_run("r", "f", State()));
  must(first->save_interrupt("r", asked("q", "approve", std::nullopt, "ok?")));

  constexpr int threads = 4;
  std::vector<int> won(threads, 0);
  std::vector<std::thread> answerers;
  answerers.reserve(threads);
  for (int t = 0; t < threads; ++t)
    answerers.emplace_back([&, t] {
      CheckpointStore& store = t % 2 == 0 ? *first : *second;
      won[static_cast<std::size_t>(t)] = store.answer_interrupt("r", "q", t).ok() ? 1 : 0;
    });
  for (std::thread& answerer : answerers)
    answerer.join();
  REQUIRE(std::count(won.begin(), won.end(), 1) == 1);
  const auto winner = std::find(won.begin(), won.end(), 1) - won.begin();
  CHECK(must(second->load_interrupts("r"))[0].answer == Value(winner));
}

TEST_CASE_TEMPLATE("runs are listed with their pending interrupts", Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("quiet", "f", State()));
  must(store->begin_run("asking", "f", State()));
  for (const char* id : {"a", "b", "c"})
    must(store->save_interrupt("asking", asked(id, "n", std::nullopt, id)));
  must(store->answer_interrupt("asking", "b", "yes"));

  const std::vector<RunRecord> runs = must(store->list_runs());
  REQUIRE(ids_of(runs) == std::vector<std::string>{"asking", "quiet"});
  CHECK(runs[0].pending_interrupts == 2);
  CHECK(runs[1].pending_interrupts == 0);
}

TEST_CASE_TEMPLATE("deleting a run deletes its interrupts", Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  for (const char* id : {"a", "b", "old"}) {
    must(store->begin_run(id, "f", State()));
    must(store->save_interrupt(id, asked("q", "n", 1, id)));
  }
  must(store->end_run("old", RunStatus::interrupted, ""));

  CHECK(must(store->delete_runs({"a"})) == 1);
  CHECK(must(store->delete_ended_before(std::chrono::system_clock::now() + 1h)) == 1);
  CHECK(must(store->load_interrupts("b")).size() == 1);
  for (const char* id : {"a", "old"}) {
    CHECK_FALSE(store->load_interrupts(id).ok());
    // A new run under the old id starts without them.
    must(store->begin_run(id, "f", State()));
    CHECK(must(store->load_interrupts(id)).empty());
    CHECK(record_of(*store, id).pending_interrupts == 0);
    must(store->save_interrupt(id, asked("q", "n", 1, "again")));
    CHECK(must(store->load_interrupts(id))[0].question == Value("again"));
  }
}

TEST_CASE(
    "an interrupt whose question does not decode is an error naming it, its run and the file") {
  TempDb file{"runs.db"};
  {
    CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
    must(store->begin_run("r", "f", State()));
    must(store->save_interrupt("r", asked("q7", "n", std::nullopt, "ok?")));
  }
  run_sql(file.str(), "UPDATE interrupts SET question = x'c1' WHERE id = 'q7'");
  CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
  Result<std::vector<Interrupt>> loaded = store->load_interrupts("r");
  REQUIRE_FALSE(loaded.ok());
  INFO(loaded.error().message);
  CHECK(loaded.error().code == Errc::bad_input);
  CHECK(contains(loaded.error().message,
                 file.str() + ": run 'r': the question of interrupt 'q7' does not decode: "));
}

TEST_CASE("a version-1 store, from before interrupts, is upgraded in place on open") {
  TempDb file{"runs.db"};
  {
    CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
    must(store->begin_run("r", "f", State().with("n", 1)));
    must(store->commit_items("r", {{"k", succeeded(0, 1, 5)}}));
  }
  // What version 1 wrote: the same tables but `interrupts` and the batch journal's.
  run_sql(file.str(), "DROP TABLE interrupts; DROP TABLE batch_jobs; DROP TABLE batch_calls;"
                      "UPDATE actorflow_meta SET value = 1 WHERE key = 'schema_version';");
  REQUIRE(schema_version_of(file.str()) == 1);

  {
    CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
    const CheckpointStore::Resumable run = must(store->load_run("r"));
    CHECK(run.initial == State().with("n", 1));
    CHECK(run.record.items_done == 1);
    CHECK(run.record.pending_interrupts == 0);
    CHECK(must(store->load_interrupts("r")).empty());
    must(store->save_interrupt("r", asked("q", "n", 0, "ok?")));
    CHECK(must(store->list_runs())[0].pending_interrupts == 1);
  }
  CHECK(schema_version_of(file.str()) == checkpoint_schema_version);
  CheckpointStorePtr again = must(open_checkpoint_store(file.str()));
  CHECK(must(again->load_interrupts("r")).size() == 1);

  SUBCASE("a version before 1 was never written: refused") {
    run_sql(file.str(), "UPDATE actorflow_meta SET value = 0 WHERE key = 'schema_version'");
    check_refused(file.str(), "checkpoint schema version 0 is not one this actorflow reads");
  }
}
