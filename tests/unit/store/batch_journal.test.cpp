// The batch journal of the checkpoint stores, on SQLite and PostgreSQL alike: a job's input
// file before its job id, the id filled in after, calls that move to a later job, calls
// forgotten, rows that go with their run; and, SQLite only, the upgrade of a version-2 store.

#include <actorflow/checkpoint.hpp>

#include "checkpoint_support.hpp"
#include "store_support.hpp"
#include "support/each_store.hpp"
#include "support/forwarding_store.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;

namespace {

BatchJobRecord job_of(std::string file, std::string job, std::vector<std::string> calls,
                      const std::string& run_id = "r", std::string server = "http://a/v1") {
  BatchJobRecord record{
      std::move(server), std::move(file), std::move(job), "/v1/chat/completions", {}};
  for (auto& id : calls)
    record.calls.push_back({std::move(id), run_id});
  return record;
}

// The (input file, job id) of the job holding `custom_id`, or none.
std::optional<std::pair<std::string, std::string>> holder(CheckpointStore& store,
                                                          const std::string& custom_id) {
  auto found = must(store.find_batch_call(custom_id));
  if (!found)
    return std::nullopt;
  CHECK(found->endpoint == "/v1/chat/completions");
  CHECK(found->server == "http://a/v1");
  CHECK(found->calls.empty());
  return std::make_pair(found->input_file_id, found->job_id);
}

using Holder = std::optional<std::pair<std::string, std::string>>;

} // namespace

TEST_CASE_TEMPLATE("a job is journaled by its input file, then its job id, and its calls find it",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  CHECK(holder(*store, "a") == Holder());

  must(store->save_batch_job(job_of("file-1", "", {"a", "b"})));
  CHECK(holder(*store, "a") == Holder({"file-1", ""})); // uploaded, its create unanswered yet
  must(store->save_batch_job(job_of("file-1", "batch_1", {})));
  CHECK(holder(*store, "b") == Holder({"file-1", "batch_1"}));

  SUBCASE("a call resubmitted moves to its new job; the old one goes with its last call") {
    must(store->save_batch_job(job_of("file-2", "batch_2", {"a", "b"})));
    CHECK(holder(*store, "a") == Holder({"file-2", "batch_2"}));
    CHECK(holder(*store, "b") == Holder({"file-2", "batch_2"}));
    CHECK(where->count_rows("batch_jobs") == 1);
  }
  SUBCASE("a server that gives a file id again: the new upload's row has no stale job id") {
    must(store->save_batch_job(job_of("file-1", "", {"c"})));
    CHECK(holder(*store, "c") == Holder({"file-1", ""}));
    CHECK(holder(*store, "a") == Holder({"file-1", ""}));
  }
  SUBCASE("another server's file of the same id is another job") {
    must(store->save_batch_job(job_of("file-1", "batch_7", {"c"}, "r", "http://b/v1")));
    CHECK(must(store->find_batch_call("c"))->server == "http://b/v1");
    CHECK(must(store->find_batch_call("c"))->job_id == "batch_7");
    CHECK(holder(*store, "a") == Holder({"file-1", "batch_1"}));
  }
  SUBCASE("one of two calls moves on: the first job stays for the other") {
    must(store->save_batch_job(job_of("file-2", "", {"b"})));
    CHECK(holder(*store, "b") == Holder({"file-2", ""}));
    CHECK(holder(*store, "a") == Holder({"file-1", "batch_1"}));
    CHECK(where->count_rows("batch_jobs") == 2);
  }
  SUBCASE("a job saved with no call of its own is not kept") {
    must(store->save_batch_job(job_of("file-3", "batch_3", {})));
    CHECK(where->count_rows("batch_jobs") == 1);
  }
  SUBCASE("forgotten calls are found no more; unknown ids are no error") {
    must(store->forget_batch_calls({"a", "nobody"}));
    CHECK(holder(*store, "a") == Holder());
    CHECK(holder(*store, "b") == Holder({"file-1", "batch_1"}));
    must(store->forget_batch_calls({"b"}));
    CHECK(where->count_rows("batch_jobs") == 0);
  }
  SUBCASE("an empty input file id is refused") {
    auto refused = store->save_batch_job(job_of("", "batch_9", {"c"}));
    REQUIRE_FALSE(refused.ok());
    CHECK(contains(refused.error().message, "the input file id is empty"));
    CHECK(holder(*store, "c") == Holder());
  }
}

TEST_CASE_TEMPLATE("a run's journaled calls are deleted with the run, and no one else's", Backend,
                   OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("r", "f", State()));
  must(store->begin_run("s", "f", State()));
  must(store->save_batch_job(job_of("file-1", "batch_1", {"r1", "r2"}, "r")));
  BatchJobRecord mixed = job_of("file-2", "batch_2", {"r3"}, "r");
  mixed.calls.push_back({"s1", "s"});
  must(store->save_batch_job(mixed));

  CHECK(must(store->delete_runs({"r"})) == 1);
  CHECK(holder(*store, "r1") == Holder());
  CHECK(holder(*store, "r3") == Holder());
  CHECK(holder(*store, "s1") == Holder({"file-2", "batch_2"}));
  CHECK(where->count_rows("batch_jobs") == 1); // file-2 still holds s1

  must(store->end_run("s", RunStatus::succeeded, ""));
  CHECK(must(store->delete_ended_before(std::chrono::system_clock::now() +
                                        std::chrono::hours(1))) == 1);
  CHECK(holder(*store, "s1") == Holder());
  CHECK(where->count_rows("batch_jobs") == 0);
}

TEST_CASE("a version-2 store, from before the batch journal, is upgraded in place on open") {
  TempDb file{"runs.db"};
  {
    CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
    must(store->begin_run("r", "f", State().with("n", 1)));
  }
  run_sql(file.str(), "DROP TABLE batch_jobs; DROP TABLE batch_calls;"
                      "UPDATE actorflow_meta SET value = 2 WHERE key = 'schema_version';");
  REQUIRE(schema_version_of(file.str()) == 2);
  CheckpointStorePtr store = must(open_checkpoint_store(file.str()));
  CHECK(schema_version_of(file.str()) == checkpoint_schema_version);
  CHECK(must(store->load_run("r")).initial == State().with("n", 1));
  must(store->save_batch_job(job_of("file-1", "batch_1", {"a"})));
  CHECK(holder(*store, "a") == Holder({"file-1", "batch_1"}));
}

namespace {

// FAKE: a store written before the batch journal existed: the journal as CheckpointStore has it.
class StoreWithoutJournal final : public ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  bool keeps_batch_journal() const noexcept override {
    return CheckpointStore::keeps_batch_journal();
  }
  Result<void> save_batch_job(const BatchJobRecord& job) override {
    return CheckpointStore::save_batch_job(job);
  }
  Result<std::optional<BatchJobRecord>> find_batch_call(std::string_view custom_id) override {
    return CheckpointStore::find_batch_call(custom_id);
  }
  Result<void> forget_batch_calls(const std::vector<std::string>& ids) override {
    return CheckpointStore::forget_batch_calls(ids);
  }
};

} // namespace

TEST_CASE("a store written before the batch journal says it keeps none") {
  TempDb file{"runs.db"};
  StoreWithoutJournal store(must(open_checkpoint_store(file.str())));
  CHECK_FALSE(store.keeps_batch_journal());
  for (const Error& error :
       {store.save_batch_job(job_of("file-1", "", {"a"})).error(),
        store.find_batch_call("a").error(), store.forget_batch_calls({"a"}).error()}) {
    CHECK(error.code == Errc::unavailable);
    CHECK(contains(error.message, "keeps no batch journal"));
  }
  CHECK(must(open_checkpoint_store(file.str()))->keeps_batch_journal());
}
