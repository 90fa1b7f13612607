// What viewers (`actorflow ui`) read from a checkpoint store, on SQLite and PostgreSQL alike
// (support/each_store.hpp): a run's items paged by batch node and index, filtered to the failed
// ones; the graph recorded when it began; its cost; and a version-3 store upgraded in place.

#include <actorflow/checkpoint.hpp>

#include "checkpoint_support.hpp"
#include "store_support.hpp"
#include "support/each_store.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace actorflow;
using namespace actorflow::testing_support;

namespace {

ItemOutcome broken(std::size_t index) {
  ItemOutcome outcome;
  outcome.index = index;
  outcome.result.emplace<1>(
      Error{Errc::node_threw, "no text in document " + std::to_string(index)});
  outcome.attempts = 2;
  return outcome;
}

// Items 0..count-1 of `node` (every third one failed), committed in reverse order: the listing
// must sort them itself.
std::vector<ItemCheckpoint> items_of(const std::string& node, std::size_t count) {
  std::vector<ItemCheckpoint> items;
  for (std::size_t i = count; i-- > 0;)
    items.push_back(ItemCheckpoint{node + "#" + std::to_string(i),
                                   i % 3 == 1 ? broken(i) : succeeded(i, Value("ok"), 5), node});
  return items;
}

std::vector<std::size_t> indexes(const ItemPage& page) {
  std::vector<std::size_t> out;
  for (const ItemRecord& item : page.items)
    out.push_back(item.outcome.index);
  return out;
}

} // namespace

TEST_CASE_TEMPLATE("list_items pages a run's items by node and index, the failed ones apart",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("r", "f", State()));
  must(store->commit_items("r", items_of("outer/summarise", 10)));
  must(store->commit_items("r", items_of("embed", 4)));

  const ItemPage all = must(store->list_items("r", ItemQuery{}));
  CHECK(all.total == 14);
  REQUIRE(all.items.size() == 14);
  CHECK(all.items.front().node == "embed"); // by node, then by index
  CHECK(indexes(all) == std::vector<std::size_t>{0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  REQUIRE(all.nodes.size() == 2);
  CHECK(all.nodes[0].node == "embed");
  CHECK(all.nodes[0].done == 4);
  CHECK(all.nodes[0].failed == 1);
  CHECK(all.nodes[1].node == "outer/summarise");
  CHECK(all.nodes[1].done == 10);
  CHECK(all.nodes[1].failed == 3);

  ItemQuery one_node{.node = "outer/summarise", .failed_only = false, .offset = 4, .limit = 3};
  const ItemPage page = must(store->list_items("r", one_node));
  CHECK(page.total == 10);
  CHECK(indexes(page) == std::vector<std::size_t>{4, 5, 6});

  ItemQuery failed{.node = "outer/summarise", .failed_only = true, .offset = 0, .limit = 100};
  const ItemPage bad = must(store->list_items("r", failed));
  CHECK(bad.total == 3);
  CHECK(indexes(bad) == std::vector<std::size_t>{1, 4, 7});
  CHECK(bad.items[1].outcome.error().message == "no text in document 4");
  CHECK(bad.items[1].outcome.attempts == 2);
  CHECK(bad.items[1].key == "outer/summarise#4");

  ItemQuery past_the_end{.node = "", .failed_only = false, .offset = 100, .limit = 10};
  const ItemPage none = must(store->list_items("r", past_the_end));
  CHECK(none.items.empty());
  CHECK(none.total == 14);

  const Result<ItemPage> ghost = store->list_items("ghost", ItemQuery{});
  REQUIRE_FALSE(ghost.ok());
  CHECK(ghost.error().code == Errc::bad_input);
  CHECK(contains(ghost.error().message, "no run 'ghost' in " + where->name()));
}

TEST_CASE_TEMPLATE("the graph recorded when a run begins is read back, none for a run without",
                   Backend, OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  const std::string graph = R"({"flow":"f","start":"a","nodes":[],"edges":[]})";
  must(store->begin_run("drawn", "f", State(), graph));
  must(store->begin_run("plain", "f", State()));
  CHECK(must(store->load_graph("drawn")) == graph);
  CHECK(must(store->load_graph("plain")).empty());
  const Result<std::string> ghost = store->load_graph("ghost");
  REQUIRE_FALSE(ghost.ok());
  CHECK(contains(ghost.error().message, "no run 'ghost'"));
  CHECK(must(store->delete_runs({"drawn"})) == 1);
  CHECK(where->count_rows("graphs") == 0);
}

TEST_CASE_TEMPLATE("a run's cost is the largest its commits gave, and survives a reopen", Backend,
                   OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  must(store->begin_run("r", "f", State()));
  CHECK(record_of(*store, "r").cost == 0);
  must(store->commit_items("r", items_of("n", 2), 0.0125));
  CHECK(record_of(*store, "r").cost == doctest::Approx(0.0125));
  must(store->commit_step("r", StepCheckpoint{1, "a", "b", State(), 0.03}));
  CHECK(record_of(*store, "r").cost == doctest::Approx(0.03));
  must(store->commit_items("r", items_of("m", 1))); // no cost given: what is there stays
  CHECK(record_of(*store, "r").cost == doctest::Approx(0.03));
  must(store->end_run("r", RunStatus::failed, "boom", 0.031));
  must(store->reopen_run("r"));
  const auto resumed = must(store->load_run("r"));
  CHECK(resumed.record.cost == doctest::Approx(0.031));
  REQUIRE(resumed.last_step.has_value());
  CHECK(resumed.last_step->cost == doctest::Approx(0.031));
  CHECK(must(store->list_runs()).front().cost == doctest::Approx(0.031));
}

TEST_CASE_TEMPLATE("a version-3 store is upgraded in place on open, its rows kept", Backend,
                   OnSqlite, OnPostgres) {
  const auto where = fresh_store<Backend>();
  if (!where)
    return;
  {
    CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
    must(store->begin_run("old", "f", State().with("n", 1)));
    must(store->commit_items("old", items_of("n", 3)));
  }
  // Back to what version 3 wrote: no graphs, no cost, no item nodes or indexes.
  for (const char* sql : {"DROP INDEX items_by_node", "ALTER TABLE items DROP COLUMN node",
                          "ALTER TABLE items DROP COLUMN item_index",
                          "ALTER TABLE runs DROP COLUMN cost_nanos", "DROP TABLE graphs"})
    (void)where->query_int(sql);
  (void)where->query_int(where->is_postgres()
                             ? "UPDATE actorflow_meta SET value = '3' WHERE key = 'schema_version'"
                             : "UPDATE actorflow_meta SET value = 3 WHERE key = 'schema_version'");
  CHECK(where->query_int("SELECT count(*) FROM actorflow_meta WHERE key = 'schema_version' AND "
                         "value = " +
                         std::string(where->is_postgres() ? "'3'" : "3")) == 1);

  CheckpointStorePtr store = must(open_checkpoint_store(where->location()));
  CHECK(where->query_int("SELECT count(*) FROM actorflow_meta WHERE key = 'schema_version' AND "
                         "value = " +
                         std::string(where->is_postgres() ? "'4'" : "4")) == 1);
  const RunRecord old = record_of(*store, "old");
  CHECK(old.items_done == 3);
  CHECK(old.cost == 0);
  CHECK(must(store->load_graph("old")).empty());
  const ItemPage before = must(store->list_items("old", ItemQuery{}));
  REQUIRE(before.items.size() == 3);
  CHECK(before.items[0].node.empty()); // committed before version 4: no node known
  CHECK(before.items[0].outcome.index <= 2);

  // And it works as a version-4 store from then on.
  must(store->begin_run("new", "f", State(), R"({"nodes":[]})"));
  must(store->commit_items("new", items_of("outer/b", 2), 0.5));
  ItemQuery of_b{.node = "outer/b", .failed_only = false, .offset = 0, .limit = 10};
  CHECK(indexes(must(store->list_items("new", of_b))) == std::vector<std::size_t>{0, 1});
  CHECK(record_of(*store, "new").cost == doctest::Approx(0.5));
  CHECK(must(store->load_graph("new")) == R"({"nodes":[]})");
}
