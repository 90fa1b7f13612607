// The items of the PostgreSQL checkpoint store. A durable batch commits every item it settles,
// in groups (store/item_writer.hpp): a group's new keys go in a few statements of many rows
// each, one round trip per statement; only a key that is there already takes the slow way.
// The run's row is locked first, so that commits of one run from several processes take turns
// and each key is counted once.

#include "store/postgres_items.hpp"

#include "core/outcome_codec.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <numeric>
#include <unordered_set>
#include <utility>

namespace actorflow::detail::postgres {

namespace {

// Items per statement of a multi-row insert, as in the SQLite store: a round trip per 64 rows,
// and the rest 8 and 1 at a time, so that three statements serve every group size.
constexpr std::size_t wide_rows = 64;
constexpr std::size_t narrow_rows = 8;

// Inserts `rows` items ($1 the run id; then key, ok, tokens, outcome, node, index per row),
// returning the keys it inserted: a key already there is left as it is.
std::string insert_items_sql(std::size_t rows) {
  std::string sql =
      "INSERT INTO items (run_id, key, ok, tokens, outcome, node, item_index) VALUES ";
  int param = 2;
  for (std::size_t row = 0; row < rows; ++row) {
    sql += row == 0 ? "($1::text" : ", ($1::text";
    for (const char* type : {"::text", "::bigint", "::bigint", "::bytea", "::text", "::bigint"}) {
      sql += ", $";
      sql += std::to_string(param++);
      sql += type;
    }
    sql += ')';
  }
  sql += " ON CONFLICT (run_id, key) DO NOTHING RETURNING key";
  return sql;
}

const char* insert_statement(std::size_t rows) {
  return rows == wide_rows     ? "items_insert_wide"
         : rows == narrow_rows ? "items_insert_narrow"
                               : "items_insert_one";
}

void add_item(Params& params, const ItemCheckpoint& item, std::span<const std::uint8_t> outcome) {
  params.text(item.key)
      .int64(item.outcome.ok() ? 1 : 0)
      .int64(item.outcome.tokens)
      .bytes(outcome)
      .text(item.node)
      .int64(static_cast<std::int64_t>(item.outcome.index));
}

// The filter list_items applies: $1 the run, $2 the node ('' any), $3 failed only (0 or 1).
#define ACTORFLOW_ITEMS_MATCHING                                                                   \
  " FROM items WHERE run_id = $1::text AND ($2::text = '' OR node = $2::text) "                    \
  "AND ($3::bigint = 0 OR ok = 0)"

} // namespace

Result<void> PostgresItems::prepare() {
  return conn_.prepare(
      {{"items_run_lock", "SELECT 1 FROM runs WHERE id = $1::text FOR UPDATE"},
       {insert_statement(wide_rows), insert_items_sql(wide_rows)},
       {insert_statement(narrow_rows), insert_items_sql(narrow_rows)},
       {insert_statement(1), insert_items_sql(1)},
       // The old row's counts, and the new row in their place.
       {"items_replace",
        "WITH old AS (SELECT ok, tokens FROM items WHERE run_id = $1::text AND key = $2::text "
        "FOR UPDATE), updated AS (UPDATE items SET ok = $3::bigint, tokens = $4::bigint, "
        "outcome = $5::bytea, node = $6::text, item_index = $7::bigint "
        "WHERE run_id = $1::text AND key = $2::text) SELECT ok, tokens FROM old"},
       {"items_add_counts",
        "UPDATE runs SET items_done = items_done + $2::bigint, "
        "items_failed = items_failed + $3::bigint, tokens = tokens + $4::bigint, "
        "updated_ms = $5::bigint, cost_nanos = GREATEST(cost_nanos, $6::bigint) "
        "WHERE id = $1::text"},
       {"items_run_exists", "SELECT 1 FROM runs WHERE id = $1::text"},
       {"items_count_matching", "SELECT count(*)" ACTORFLOW_ITEMS_MATCHING},
       {"items_select_page", "SELECT key, node, outcome" ACTORFLOW_ITEMS_MATCHING
                             " ORDER BY node, item_index, key LIMIT $4::bigint OFFSET $5::bigint"},
       {"items_count_nodes", "SELECT node, count(*), sum(CASE WHEN ok = 0 THEN 1 ELSE 0 END)"
                             "::bigint FROM items WHERE run_id = $1::text GROUP BY node "
                             "ORDER BY node"},
       // One statement, so one snapshot: a run without items is one row of NULLs, no run is
       // no row.
       {"items_select_all", "SELECT items.key, items.outcome FROM runs "
                            "LEFT JOIN items ON items.run_id = runs.id WHERE runs.id = $1::text"}});
}

Result<void> PostgresItems::commit(std::string_view run_id,
                                   const std::vector<ItemCheckpoint>& items, double cost) {
  const EncodedOutcomes encoded(items);
  // The last item of each key, in key order: a later outcome under a key wins, also within
  // one call, and a statement's rows share index pages.
  std::unordered_map<std::string_view, std::size_t> last_of_key;
  for (std::size_t i = 0; i < items.size(); ++i)
    last_of_key[items[i].key] = i;
  std::vector<std::size_t> latest;
  latest.reserve(last_of_key.size());
  for (const auto& [key, index] : last_of_key)
    latest.push_back(index);
  std::sort(latest.begin(), latest.end(),
            [&](std::size_t a, std::size_t b) { return items[a].key < items[b].key; });

  std::lock_guard lock(conn_.mutex());
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("commit_items"); !begun)
    return begun;
  Params run;
  run.text(run_id);
  Result<Rows> locked = conn_.run("items_run_lock", run, "commit_items");
  if (!locked)
    return locked.error();
  if (locked->empty())
    return no_run(conn_.name(), run_id);

  Counts moved;
  Result<std::vector<std::size_t>> there = insert_new(run_id, latest, items, encoded, moved);
  if (!there)
    return there.error();
  for (std::size_t i : *there)
    if (Result<void> replaced = replace(run_id, items[i], encoded[i], moved); !replaced)
      return replaced;

  Params counts;
  counts.text(run_id)
      .int64(moved.done)
      .int64(moved.failed)
      .int64(moved.tokens)
      .int64(now_ms())
      .int64(to_nanos(cost));
  if (Result<Rows> counted = conn_.run("items_add_counts", counts, "commit_items"); !counted)
    return counted.error();
  return tx.commit("commit_items");
}

// Inserts the items of `latest` whose keys are new, as many rows per statement as fit, adding
// them to `moved`; returns the items whose keys were there already.
Result<std::vector<std::size_t>> PostgresItems::insert_new(std::string_view run_id,
                                                           std::span<const std::size_t> latest,
                                                           const std::vector<ItemCheckpoint>& items,
                                                           const EncodedOutcomes& encoded,
                                                           Counts& moved) {
  std::vector<std::size_t> there;
  std::span<const std::size_t> rest = latest;
  for (std::size_t rows : {wide_rows, narrow_rows, std::size_t{1}}) {
    for (; rest.size() >= rows; rest = rest.subspan(rows)) {
      const std::span<const std::size_t> group = rest.first(rows);
      Params params;
      params.text(run_id);
      for (std::size_t i : group)
        add_item(params, items[i], encoded[i]);
      Result<Rows> inserted = conn_.run(insert_statement(rows), params, "commit_items");
      if (!inserted)
        return inserted.error();
      std::unordered_set<std::string_view> new_keys;
      for (int row = 0; row < inserted->size(); ++row)
        new_keys.insert(inserted->text(row, 0));
      for (std::size_t i : group) {
        if (new_keys.contains(items[i].key))
          add(moved, items[i].outcome);
        else
          there.push_back(i);
      }
    }
  }
  return there;
}

// Replaces the row of a key that is there already: the counters move by what the row changed.
Result<void> PostgresItems::replace(std::string_view run_id, const ItemCheckpoint& item,
                                    std::span<const std::uint8_t> outcome, Counts& moved) {
  Params params;
  params.text(run_id);
  add_item(params, item, outcome);
  Result<Rows> old = conn_.run("items_replace", params, "commit_items");
  if (!old)
    return old.error();
  if (old->empty()) // the insert's conflict said the row is there, and the run is locked
    return Error{Errc::internal,
                 conn_.name() + ": commit_items: item '" + item.key + "' was there and is gone"};
  --moved.done;
  moved.failed -= old->int64(0, 0) == 0 ? 1 : 0;
  moved.tokens -= old->int64(0, 1);
  add(moved, item.outcome);
  return {};
}

void PostgresItems::add(Counts& counts, const ItemOutcome& outcome) {
  ++counts.done;
  counts.failed += outcome.ok() ? 0 : 1;
  counts.tokens += outcome.tokens;
}

Result<std::unordered_map<std::string, ItemOutcome>> PostgresItems::load(std::string_view run_id) {
  Result<Rows> rows = Error{};
  {
    std::lock_guard lock(conn_.mutex());
    Params params;
    params.text(run_id);
    rows = conn_.run("items_select_all", params, "load_items");
  }
  if (!rows)
    return rows.error();
  if (rows->empty())
    return no_run(conn_.name(), run_id);
  // Decoded outside the mutex: the result is ours alone.
  std::unordered_map<std::string, ItemOutcome> items;
  items.reserve(static_cast<std::size_t>(rows->size()));
  for (int row = 0; row < rows->size(); ++row) {
    if (rows->is_null(row, 0))
      continue; // the run, without items
    const std::string_view key = rows->text(row, 0);
    Result<ItemOutcome> outcome = detail::decode_outcome(rows->bytes(row, 1));
    if (!outcome) {
      std::string what = "item ";
      what += key;
      return undecodable(conn_.name(), run_id, what, outcome.error());
    }
    items.emplace(std::string(key), std::move(*outcome));
  }
  return items;
}

// Four statements under the mutex, each its own snapshot: a live run's commits may fall between
// them, and a viewer polls again.
Result<ItemPage> PostgresItems::list(std::string_view run_id, const ItemQuery& query) {
  const auto clamp = [](std::uint64_t n) {
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(n, std::numeric_limits<std::int64_t>::max()));
  };
  Params filter;
  filter.text(run_id).text(query.node).int64(query.failed_only ? 1 : 0);
  Params page_params;
  page_params.text(run_id)
      .text(query.node)
      .int64(query.failed_only ? 1 : 0)
      .int64(clamp(query.limit))
      .int64(clamp(query.offset));
  Params run;
  run.text(run_id);
  Result<Rows> rows = Error{}, counted = Error{}, nodes = Error{};
  {
    std::lock_guard lock(conn_.mutex());
    Result<Rows> exists = conn_.run("items_run_exists", run, "list_items");
    if (!exists)
      return exists.error();
    if (exists->empty())
      return no_run(conn_.name(), run_id);
    counted = conn_.run("items_count_matching", filter, "list_items");
    if (counted)
      rows = conn_.run("items_select_page", page_params, "list_items");
    if (counted && rows)
      nodes = conn_.run("items_count_nodes", run, "list_items");
  }
  for (const Result<Rows>* result : {&counted, &rows, &nodes})
    if (!*result)
      return result->error();
  ItemPage page;
  page.total = counted->count(0, 0);
  for (int row = 0; row < nodes->size(); ++row)
    page.nodes.push_back(ItemPage::NodeCount{std::string(nodes->text(row, 0)), nodes->count(row, 1),
                                             nodes->count(row, 2)});
  page.items.reserve(static_cast<std::size_t>(rows->size()));
  for (int row = 0; row < rows->size(); ++row) {
    const std::string_view key = rows->text(row, 0);
    Result<ItemOutcome> outcome = detail::decode_outcome(rows->bytes(row, 2));
    if (!outcome)
      return undecodable(conn_.name(), run_id, "item " + std::string(key), outcome.error());
    page.items.push_back(
        ItemRecord{std::string(key), std::string(rows->text(row, 1)), std::move(*outcome)});
  }
  return page;
}

} // namespace actorflow::detail::postgres
