// The items of the SQLite checkpoint store. A durable batch commits every item it settles, in
// groups (store/item_writer.hpp), so this is the store's hot path: a group's new keys go in a
// few statements of many rows each, and only a key that is there already takes the slow way.

#include "store/sqlite_items.hpp"

#include "core/msgpack_pack.hpp"
#include "core/outcome_codec.hpp"
#include "store/sqlite_rows.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <numeric>
#include <utility>

namespace actorflow::detail::sqlite {

namespace {

// Parameters an item takes in the item statements: key, ok, tokens, outcome, node, index (?1 is
// the run id).
constexpr int item_params = 6;
// Items per statement of a multi-row insert. Past 64 a statement gains little; 8 takes most of
// what is left of a group.
constexpr std::size_t wide_rows = 64;
constexpr std::size_t narrow_rows = 8;

// Inserts `rows` items: (?1, ?2, ?3, ?4, ?5), (?1, ?6, ...), ...; a key already there is left as
// it is, which the count of changed rows tells.
std::string insert_items_sql(std::size_t rows) {
  std::string sql = "INSERT INTO items (run_id, key, ok, tokens, outcome, node, item_index) "
                    "VALUES ";
  int param = 2;
  for (std::size_t row = 0; row < rows; ++row) {
    sql += row == 0 ? "(?1" : ", (?1";
    for (int i = 0; i < item_params; ++i) {
      sql += ", ?";
      sql += std::to_string(param++);
    }
    sql += ')';
  }
  sql += " ON CONFLICT (run_id, key) DO NOTHING";
  return sql;
}

// Binds an item's key, ok, tokens, outcome, node and index to the parameters from `first` on.
int bind_item(sqlite3_stmt* stmt, int first, const ItemCheckpoint& item,
              std::span<const std::uint8_t> outcome) {
  return bind_all(stmt, first, std::string_view(item.key), std::int64_t{item.outcome.ok() ? 1 : 0},
                  item.outcome.tokens, outcome, std::string_view(item.node),
                  static_cast<std::int64_t>(item.outcome.index));
}

// The filter list_items applies: ?1 the run, ?2 the node ('' any), ?3 failed only (0 or 1).
#define ACTORFLOW_ITEMS_MATCHING                                                                   \
  " FROM items WHERE run_id = ?1 AND (?2 = '' OR node = ?2) AND (?3 = 0 OR ok = 0)"

} // namespace

Result<void> SqliteItems::prepare() {
  const std::string insert_wide = insert_items_sql(wide_rows);
  const std::string insert_narrow = insert_items_sql(narrow_rows);
  const std::string insert_one = insert_items_sql(1);
  return prepare_all(
      conn_, {{&run_exists_, run_exists_sql},
              {&insert_one_, insert_one.c_str()},
              {&insert_wide_, insert_wide.c_str()},
              {&insert_narrow_, insert_narrow.c_str()},
              {&select_one_, "SELECT ok, tokens FROM items WHERE run_id = ?1 AND key = ?2"},
              {&update_one_, "UPDATE items SET ok = ?3, tokens = ?4, outcome = ?5, node = ?6, "
                             "item_index = ?7 WHERE run_id = ?1 AND key = ?2"},
              {&add_counts_, "UPDATE runs SET items_done = items_done + ?2, "
                             "items_failed = items_failed + ?3, tokens = tokens + ?4, "
                             "updated_ms = ?5, cost_nanos = max(cost_nanos, ?6) WHERE id = ?1"},
              {&count_matching_, "SELECT count(*)" ACTORFLOW_ITEMS_MATCHING},
              {&select_page_, "SELECT key, node, outcome" ACTORFLOW_ITEMS_MATCHING
                              " ORDER BY node, item_index, key LIMIT ?4 OFFSET ?5"},
              {&count_nodes_, "SELECT node, count(*), sum(ok = 0) FROM items "
                              "WHERE run_id = ?1 GROUP BY node ORDER BY node"},
              // One statement, so one snapshot: a run without items is one row of NULLs, no run
              // is no row.
              {&select_all_, "SELECT items.key, items.outcome FROM runs "
                             "LEFT JOIN items ON items.run_id = runs.id WHERE runs.id = ?1"}});
}

Result<void> SqliteItems::commit(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                                 double cost) {
  const EncodedOutcomes encoded(items);
  std::lock_guard lock(conn_.mutex());
  // New keys are the common case: they go in a few statements of many rows. A key already
  // there (a retried batch, or twice in this call) undoes that, and the items go one by one.
  const std::int64_t cost_nanos = to_nanos(cost);
  Result<bool> written = write(run_id, items, encoded, Keys::all_new, cost_nanos);
  if (written && !*written)
    written = write(run_id, items, encoded, Keys::any, cost_nanos);
  if (!written)
    return written.error();
  return {};
}

Result<std::unordered_map<std::string, ItemOutcome>> SqliteItems::load(std::string_view run_id) {
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> rows;
  {
    std::lock_guard lock(conn_.mutex());
    Reset reset(select_all_);
    int rc = bind_text(select_all_, 1, run_id);
    if (rc == SQLITE_OK)
      rc = sqlite3_step(select_all_);
    if (rc == SQLITE_DONE)
      return no_run(conn_, run_id);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(select_all_)) {
      if (sqlite3_column_type(select_all_, 0) == SQLITE_NULL)
        continue; // the run, without items
      const std::span<const std::uint8_t> bytes = column_blob(select_all_, 1);
      rows.emplace_back(std::string(column_text(select_all_, 0)),
                        std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    }
    if (rc != SQLITE_DONE)
      return conn_.error("load_items", rc);
  }
  std::unordered_map<std::string, ItemOutcome> items;
  items.reserve(rows.size());
  for (auto& [key, bytes] : rows) {
    Result<ItemOutcome> outcome = detail::decode_outcome(bytes);
    if (!outcome) {
      std::string what = "item ";
      what += key;
      return undecodable(conn_, run_id, what, outcome.error());
    }
    items.emplace(std::move(key), std::move(*outcome));
  }
  return items;
}

// The items and the run's counters, in one transaction; false (and nothing written) when
// `keys` is all_new and a key was there already.
Result<bool> SqliteItems::write(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                                const EncodedOutcomes& encoded, Keys keys,
                                std::int64_t cost_nanos) {
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("commit_items"); !begun)
    return begun.error();
  Result<bool> known = run_known(conn_, run_exists_, run_id, "commit_items");
  if (!known)
    return known.error();
  if (!*known)
    return no_run(conn_, run_id);

  Counts moved;
  if (keys == Keys::all_new) {
    Result<bool> inserted = insert_new(run_id, items, encoded);
    if (!inserted || !*inserted)
      return inserted; // rolled back
    for (const ItemCheckpoint& item : items)
      moved = added(moved, item.outcome);
  } else {
    Result<Counts> upserted = upsert_each(run_id, items, encoded);
    if (!upserted)
      return upserted.error();
    moved = *upserted;
  }
  if (Result<void> counted = add_counts(run_id, moved, cost_nanos); !counted)
    return counted.error();
  if (Result<void> committed = tx.commit("commit_items"); !committed)
    return committed.error();
  return true;
}

SqliteItems::Counts SqliteItems::added(Counts counts, const ItemOutcome& outcome) {
  ++counts.done;
  counts.failed += outcome.ok() ? 0 : 1;
  counts.tokens += outcome.tokens;
  return counts;
}

// Inserts items with new keys, as many rows per statement as fit, in key order: each
// statement's rows then share B-tree pages, and a statement's fixed cost (its cursor, its
// reset) is paid once per many rows. False when a key was there already.
Result<bool> SqliteItems::insert_new(std::string_view run_id,
                                     const std::vector<ItemCheckpoint>& items,
                                     const EncodedOutcomes& encoded) {
  std::vector<std::size_t> order(items.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return items[a].key < items[b].key; });
  std::span<const std::size_t> rest(order);
  for (const auto& [stmt, rows] :
       {std::pair{insert_wide_, wide_rows}, std::pair{insert_narrow_, narrow_rows},
        std::pair{insert_one_, std::size_t{1}}}) {
    for (; rest.size() >= rows; rest = rest.subspan(rows)) {
      Result<bool> inserted = insert_rows(stmt, run_id, rest.first(rows), items, encoded);
      if (!inserted || !*inserted)
        return inserted;
    }
  }
  return true;
}

// One multi-row insert: false when it inserted fewer rows than it was given.
Result<bool> SqliteItems::insert_rows(sqlite3_stmt* stmt, std::string_view run_id,
                                      std::span<const std::size_t> rows,
                                      const std::vector<ItemCheckpoint>& items,
                                      const EncodedOutcomes& encoded) {
  Reset reset(stmt);
  int rc = bind_text(stmt, 1, run_id);
  int param = 2;
  for (std::size_t i : rows) {
    if (rc == SQLITE_OK)
      rc = bind_item(stmt, param, items[i], encoded[i]);
    param += item_params;
  }
  if (rc == SQLITE_OK)
    rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE)
    return conn_.error("commit_items", rc);
  return conn_.changes() == static_cast<std::int64_t>(rows.size());
}

// Writes the items one by one, in order: a key already there is read, then replaced, so the
// counters move by what each row changed and a key committed again counts once, with its
// latest outcome.
Result<SqliteItems::Counts> SqliteItems::upsert_each(std::string_view run_id,
                                                     const std::vector<ItemCheckpoint>& items,
                                                     const EncodedOutcomes& encoded) {
  Counts moved;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const ItemCheckpoint& item = items[i];
    auto write_row = [&](sqlite3_stmt* stmt) {
      Reset reset(stmt);
      int rc = bind_text(stmt, 1, run_id);
      if (rc == SQLITE_OK)
        rc = bind_item(stmt, 2, item, encoded[i]);
      if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
      return rc;
    };
    if (int rc = write_row(insert_one_); rc != SQLITE_DONE)
      return conn_.error("commit_items", rc);
    if (conn_.changes() == 0) {
      Reset reset(select_one_);
      int rc = bind_all(select_one_, 1, run_id, std::string_view(item.key));
      if (rc == SQLITE_OK)
        rc = sqlite3_step(select_one_);
      if (rc != SQLITE_ROW) // the conflict says the row is there
        return conn_.error("commit_items", rc);
      --moved.done;
      moved.failed -= sqlite3_column_int64(select_one_, 0) == 0 ? 1 : 0;
      moved.tokens -= sqlite3_column_int64(select_one_, 1);
      if (rc = write_row(update_one_); rc != SQLITE_DONE)
        return conn_.error("commit_items", rc);
    }
    moved = added(moved, item.outcome);
  }
  return moved;
}

Result<void> SqliteItems::add_counts(std::string_view run_id, const Counts& moved,
                                     std::int64_t cost_nanos) {
  Reset reset(add_counts_);
  const int rc = bind_all(add_counts_, 1, run_id, moved.done, moved.failed, moved.tokens, now_ms(),
                          cost_nanos);
  if (rc != SQLITE_OK)
    return conn_.error("commit_items", rc);
  return conn_.run(add_counts_, "commit_items");
}

// Three statements under one lock: a viewer's page, its count and the nodes' counts. Without a
// read transaction the three may see different commits of a live run; a viewer polls again.
Result<ItemPage> SqliteItems::list(std::string_view run_id, const ItemQuery& query) {
  struct Row {
    std::string key, node;
    std::vector<std::uint8_t> outcome;
  };
  std::vector<Row> rows;
  ItemPage page;
  {
    std::lock_guard lock(conn_.mutex());
    Result<bool> known = run_known(conn_, run_exists_, run_id, "list_items");
    if (!known)
      return known.error();
    if (!*known)
      return no_run(conn_, run_id);
    const auto bind_filter = [&](sqlite3_stmt* stmt) {
      return bind_all(stmt, 1, run_id, std::string_view(query.node),
                      std::int64_t{query.failed_only ? 1 : 0});
    };
    {
      Reset reset(count_matching_);
      int rc = bind_filter(count_matching_);
      if (rc == SQLITE_OK)
        rc = sqlite3_step(count_matching_);
      if (rc != SQLITE_ROW)
        return conn_.error("list_items", rc);
      page.total = count_of(count_matching_, 0);
    }
    {
      Reset reset(select_page_);
      const auto clamp = [](std::uint64_t n) {
        return static_cast<std::int64_t>(
            std::min<std::uint64_t>(n, std::numeric_limits<std::int64_t>::max()));
      };
      int rc = bind_filter(select_page_);
      if (rc == SQLITE_OK)
        rc = bind_all(select_page_, 4, clamp(query.limit), clamp(query.offset));
      if (rc == SQLITE_OK)
        rc = sqlite3_step(select_page_);
      for (; rc == SQLITE_ROW; rc = sqlite3_step(select_page_)) {
        const std::span<const std::uint8_t> bytes = column_blob(select_page_, 2);
        rows.push_back(Row{std::string(column_text(select_page_, 0)),
                           std::string(column_text(select_page_, 1)),
                           std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
      }
      if (rc != SQLITE_DONE)
        return conn_.error("list_items", rc);
    }
    Reset reset(count_nodes_);
    int rc = bind_text(count_nodes_, 1, run_id);
    if (rc == SQLITE_OK)
      rc = sqlite3_step(count_nodes_);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(count_nodes_))
      page.nodes.push_back(ItemPage::NodeCount{std::string(column_text(count_nodes_, 0)),
                                               count_of(count_nodes_, 1),
                                               count_of(count_nodes_, 2)});
    if (rc != SQLITE_DONE)
      return conn_.error("list_items", rc);
  }
  page.items.reserve(rows.size());
  for (Row& row : rows) {
    Result<ItemOutcome> outcome = detail::decode_outcome(row.outcome);
    if (!outcome)
      return undecodable(conn_, run_id, "item " + row.key, outcome.error());
    page.items.push_back(ItemRecord{std::move(row.key), std::move(row.node), std::move(*outcome)});
  }
  return page;
}

} // namespace actorflow::detail::sqlite
