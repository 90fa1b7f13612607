// The SQLite CheckpointStore. One connection (store/sqlite.hpp) behind its mutex serves every
// thread; other processes may open the same file (WAL: `actorflow runs list` reads while a run
// writes). Unlike the caches, a file that is damaged, or someone else's, is refused and left as
// it is: checkpoints cannot be recomputed. The tables are store/checkpoint_schema.hpp's.

#include <actorflow/checkpoint.hpp>

#include "store/checkpoint_schema.hpp"
#include "store/checkpoint_stores.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_batch_journal.hpp"
#include "store/sqlite_interrupts.hpp"
#include "store/sqlite_items.hpp"
#include "store/sqlite_rows.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace actorflow {

using namespace detail;
using namespace detail::sqlite;

namespace {

// A row of a statement, as read_run_record reads it.
struct StatementRow {
  sqlite3_stmt* stmt;
  [[nodiscard]] std::string_view text(int column) const { return column_text(stmt, column); }
  [[nodiscard]] std::uint64_t count(int column) const { return count_of(stmt, column); }
  [[nodiscard]] std::int64_t int64(int column) const { return sqlite3_column_int64(stmt, column); }
};

// -- the store -----------------------------------------------------------------------------------

// Every member function takes the connection's mutex for its whole SQLite work, and encodes or
// decodes msgpack outside it where it can, so threads overlap in the codec.
class SqliteCheckpointStore final : public CheckpointStore {
public:
  explicit SqliteCheckpointStore(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  Result<void> prepare() {
    std::lock_guard lock(conn_->mutex());
    if (Result<void> prepared = interrupts_.prepare(); !prepared)
      return prepared;
    if (Result<void> prepared = journal_.prepare(); !prepared)
      return prepared;
    if (Result<void> prepared = items_.prepare(); !prepared)
      return prepared;
    return prepare_all(
        *conn_,
        {{&insert_run_, "INSERT INTO runs (id, flow, status, created_ms, updated_ms) "
                        "VALUES (?1, ?2, 'running', ?3, ?3)"},
         {&insert_initial_,
          "INSERT OR REPLACE INTO initial_states (run_id, state) VALUES (?1, ?2)"},
         {&insert_graph_, "INSERT OR REPLACE INTO graphs (run_id, graph) VALUES (?1, ?2)"},
         {&select_graph_, "SELECT graphs.graph FROM runs "
                          "LEFT JOIN graphs ON graphs.run_id = runs.id WHERE runs.id = ?1"},
         {&select_run_, "SELECT " ACTORFLOW_RUN_COLUMNS ", initial_states.state, "
                        "last_states.state FROM runs "
                        "LEFT JOIN initial_states ON initial_states.run_id = runs.id "
                        "LEFT JOIN last_states ON last_states.run_id = runs.id "
                        "WHERE runs.id = ?1"},
         {&reopen_run_, "UPDATE runs SET status = 'running', error = '', ended_ms = NULL, "
                        "updated_ms = ?2 WHERE id = ?1"},
         {&update_step_, "UPDATE runs SET steps = ?2, last_node = ?3, next_node = ?4, "
                         "updated_ms = ?5, cost_nanos = max(cost_nanos, ?6) WHERE id = ?1"},
         {&upsert_state_, "INSERT OR REPLACE INTO last_states (run_id, state) VALUES (?1, ?2)"},
         {&end_run_, "UPDATE runs SET status = ?2, error = ?3, ended_ms = ?4, updated_ms = ?4, "
                     "cost_nanos = max(cost_nanos, ?5) WHERE id = ?1"},
         {&list_runs_,
          "SELECT " ACTORFLOW_RUN_COLUMNS " FROM runs ORDER BY created_ms DESC, rowid DESC"},
         {&ended_before_, "SELECT id FROM runs WHERE status <> 'running' AND ended_ms < ?1"},
         {&delete_items_, "DELETE FROM items WHERE run_id = ?1"},
         {&delete_interrupts_, "DELETE FROM interrupts WHERE run_id = ?1"},
         {&delete_initial_, "DELETE FROM initial_states WHERE run_id = ?1"},
         {&delete_graph_, "DELETE FROM graphs WHERE run_id = ?1"},
         {&delete_state_, "DELETE FROM last_states WHERE run_id = ?1"},
         {&delete_run_, "DELETE FROM runs WHERE id = ?1"}});
  }

  Result<void> begin_run(std::string_view run_id, std::string_view flow, const State& initial,
                         std::string_view graph = {}) override {
    if (run_id.empty())
      return Error{Errc::bad_input, conn_->path() + ": begin_run: the run id is empty"};
    const std::vector<std::uint8_t> bytes = to_msgpack(initial);
    std::lock_guard lock(conn_->mutex());
    Transaction tx(*conn_);
    if (Result<void> begun = tx.begin("begin_run"); !begun)
      return begun.error();
    {
      Reset reset(insert_run_);
      int rc = bind_text(insert_run_, 1, run_id);
      if (rc == SQLITE_OK)
        rc = bind_text(insert_run_, 2, flow);
      if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(insert_run_, 3, now_ms());
      if (rc == SQLITE_OK)
        rc = sqlite3_step(insert_run_);
      if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return run_recorded_already(conn_->path(), run_id);
      if (rc != SQLITE_DONE)
        return conn_->error("begin_run", rc);
    }
    if (Result<void> stored = put_state(insert_initial_, run_id, bytes, "begin_run"); !stored)
      return stored;
    if (!graph.empty()) {
      Reset reset(insert_graph_);
      if (int rc = bind_all(insert_graph_, 1, run_id, graph); rc != SQLITE_OK)
        return conn_->error("begin_run", rc);
      if (Result<void> stored = conn_->run(insert_graph_, "begin_run"); !stored)
        return stored;
    }
    return tx.commit("begin_run");
  }

  Result<Resumable> load_run(std::string_view run_id) override {
    std::vector<std::uint8_t> initial;
    std::optional<std::vector<std::uint8_t>> last;
    Result<RunRecord> record = Error{};
    {
      std::lock_guard lock(conn_->mutex());
      Reset reset(select_run_);
      if (int rc = bind_text(select_run_, 1, run_id); rc != SQLITE_OK)
        return conn_->error("load_run", rc);
      const int rc = sqlite3_step(select_run_);
      if (rc == SQLITE_DONE)
        return no_run(run_id);
      if (rc != SQLITE_ROW)
        return conn_->error("load_run", rc);
      record = read_record(select_run_);
      if (sqlite3_column_type(select_run_, run_column_count) == SQLITE_NULL)
        return undecodable(run_id, "its initial State", Error{Errc::bad_input, "it is missing"});
      const std::span<const std::uint8_t> initial_bytes =
          column_blob(select_run_, run_column_count);
      initial.assign(initial_bytes.begin(), initial_bytes.end());
      if (sqlite3_column_type(select_run_, run_column_count + 1) != SQLITE_NULL) {
        const std::span<const std::uint8_t> last_bytes =
            column_blob(select_run_, run_column_count + 1);
        last.emplace(last_bytes.begin(), last_bytes.end());
      }
    }
    if (!record)
      return record.error();

    Result<State> initial_state = state_from_msgpack(initial);
    if (!initial_state)
      return undecodable(run_id, "its initial State", initial_state.error());
    Resumable resumable{std::move(*record), std::move(*initial_state), std::nullopt};
    if (last) {
      Result<State> state = state_from_msgpack(*last);
      if (!state)
        return undecodable(run_id, "its last step's State", state.error());
      const RunRecord& run = resumable.record;
      resumable.last_step =
          StepCheckpoint{run.steps, run.last_node, run.next_node, std::move(*state), run.cost};
    }
    return resumable;
  }

  Result<void> reopen_run(std::string_view run_id) override {
    std::lock_guard lock(conn_->mutex());
    Reset reset(reopen_run_);
    int rc = bind_text(reopen_run_, 1, run_id);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_int64(reopen_run_, 2, now_ms());
    if (rc != SQLITE_OK)
      return conn_->error("reopen_run", rc);
    return run_on_run(reopen_run_, run_id, "reopen_run");
  }

  Result<void> commit_step(std::string_view run_id, const StepCheckpoint& step) override {
    const std::vector<std::uint8_t> bytes = to_msgpack(step.state);
    std::lock_guard lock(conn_->mutex());
    Transaction tx(*conn_);
    if (Result<void> begun = tx.begin("commit_step"); !begun)
      return begun.error();
    {
      Reset reset(update_step_);
      int rc = bind_text(update_step_, 1, run_id);
      if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(update_step_, 2, static_cast<sqlite3_int64>(step.step));
      if (rc == SQLITE_OK)
        rc = bind_text(update_step_, 3, step.node);
      if (rc == SQLITE_OK)
        rc = bind_text(update_step_, 4, step.next_node);
      if (rc == SQLITE_OK)
        rc = bind_all(update_step_, 5, now_ms(), to_nanos(step.cost));
      if (rc != SQLITE_OK)
        return conn_->error("commit_step", rc);
      if (Result<void> updated = run_on_run(update_step_, run_id, "commit_step"); !updated)
        return updated;
    }
    if (Result<void> stored = put_state(upsert_state_, run_id, bytes, "commit_step"); !stored)
      return stored;
    return tx.commit("commit_step");
  }

  Result<void> commit_items(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                            double cost = 0) override {
    return items_.commit(run_id, items, cost);
  }

  Result<std::unordered_map<std::string, ItemOutcome>>
  load_items(std::string_view run_id) override {
    return items_.load(run_id);
  }

  Result<void> save_interrupt(std::string_view run_id, const Interrupt& interrupt) override {
    return interrupts_.save(run_id, interrupt);
  }

  Result<void> answer_interrupt(std::string_view run_id, std::string_view id,
                                const Value& answer) override {
    return interrupts_.answer(run_id, id, answer);
  }

  Result<std::vector<Interrupt>> load_interrupts(std::string_view run_id) override {
    return interrupts_.load(run_id);
  }

  Result<void> end_run(std::string_view run_id, RunStatus status, std::string_view error,
                       double cost = 0) override {
    if (status == RunStatus::running)
      return Error{Errc::bad_input, conn_->path() + ": end_run: 'running' is no end"};
    std::lock_guard lock(conn_->mutex());
    Reset reset(end_run_);
    int rc = bind_text(end_run_, 1, run_id);
    if (rc == SQLITE_OK)
      rc = bind_text(end_run_, 2, to_string(status));
    if (rc == SQLITE_OK)
      rc = bind_text(end_run_, 3, error);
    if (rc == SQLITE_OK)
      rc = bind_all(end_run_, 4, now_ms(), to_nanos(cost));
    if (rc != SQLITE_OK)
      return conn_->error("end_run", rc);
    return run_on_run(end_run_, run_id, "end_run");
  }

  Result<std::vector<RunRecord>> list_runs() override {
    std::lock_guard lock(conn_->mutex());
    Reset reset(list_runs_);
    std::vector<RunRecord> runs;
    int rc = sqlite3_step(list_runs_);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(list_runs_)) {
      Result<RunRecord> record = read_record(list_runs_);
      if (!record)
        return record.error();
      runs.push_back(std::move(*record));
    }
    if (rc != SQLITE_DONE)
      return conn_->error("list_runs", rc);
    return runs;
  }

  Result<ItemPage> list_items(std::string_view run_id, const ItemQuery& query) override {
    return items_.list(run_id, query);
  }

  Result<std::string> load_graph(std::string_view run_id) override {
    std::lock_guard lock(conn_->mutex());
    Reset reset(select_graph_);
    int rc = bind_text(select_graph_, 1, run_id);
    if (rc == SQLITE_OK)
      rc = sqlite3_step(select_graph_);
    if (rc == SQLITE_DONE)
      return no_run(run_id);
    if (rc != SQLITE_ROW)
      return conn_->error("load_graph", rc);
    return std::string(column_text(select_graph_, 0)); // "" for NULL: no graph recorded
  }

  [[nodiscard]] bool keeps_batch_journal() const noexcept override { return true; }
  Result<void> save_batch_job(const BatchJobRecord& job) override { return journal_.save(job); }
  Result<std::optional<BatchJobRecord>> find_batch_call(std::string_view custom_id) override {
    return journal_.find(custom_id);
  }
  Result<void> forget_batch_calls(const std::vector<std::string>& custom_ids) override {
    return journal_.forget(custom_ids);
  }

  Result<std::size_t> delete_runs(const std::vector<std::string>& run_ids) override {
    std::lock_guard lock(conn_->mutex());
    Transaction tx(*conn_);
    if (Result<void> begun = tx.begin("delete_runs"); !begun)
      return begun.error();
    Result<std::size_t> deleted = delete_each(run_ids, "delete_runs");
    if (!deleted)
      return deleted;
    if (Result<void> done = tx.commit("delete_runs"); !done)
      return done.error();
    return deleted;
  }

  Result<std::size_t> delete_ended_before(std::chrono::system_clock::time_point before) override {
    std::lock_guard lock(conn_->mutex());
    Transaction tx(*conn_);
    if (Result<void> begun = tx.begin("delete_ended_before"); !begun)
      return begun.error();
    std::vector<std::string> ended;
    {
      Reset reset(ended_before_);
      int rc = sqlite3_bind_int64(ended_before_, 1, to_ms(before));
      if (rc == SQLITE_OK)
        rc = sqlite3_step(ended_before_);
      for (; rc == SQLITE_ROW; rc = sqlite3_step(ended_before_))
        ended.emplace_back(column_text(ended_before_, 0));
      if (rc != SQLITE_DONE)
        return conn_->error("delete_ended_before", rc);
    }
    Result<std::size_t> deleted = delete_each(ended, "delete_ended_before");
    if (!deleted)
      return deleted;
    if (Result<void> done = tx.commit("delete_ended_before"); !done)
      return done.error();
    return deleted;
  }

private:
  // -- helpers; each expects the mutex held ---------------------------------------------------

  [[nodiscard]] Error no_run(std::string_view run_id) const {
    return detail::sqlite::no_run(*conn_, run_id);
  }

  [[nodiscard]] Error undecodable(std::string_view run_id, std::string_view what,
                                  const Error& error) const {
    return detail::sqlite::undecodable(*conn_, run_id, what, error);
  }

  // Runs an UPDATE of the run `run_id` (bound by the caller); no row changed means no run.
  Result<void> run_on_run(sqlite3_stmt* stmt, std::string_view run_id, std::string_view what) {
    if (Result<void> ran = conn_->run(stmt, what); !ran)
      return ran;
    if (conn_->changes() == 0)
      return no_run(run_id);
    return {};
  }

  Result<void> put_state(sqlite3_stmt* stmt, std::string_view run_id,
                         std::span<const std::uint8_t> bytes, std::string_view what) {
    Reset reset(stmt);
    int rc = bind_text(stmt, 1, run_id);
    if (rc == SQLITE_OK)
      rc = bind_blob(stmt, 2, bytes);
    if (rc != SQLITE_OK)
      return conn_->error(what, rc);
    return conn_->run(stmt, what);
  }

  // The RunRecord in the current row of a statement that selects ACTORFLOW_RUN_COLUMNS first.
  Result<RunRecord> read_record(sqlite3_stmt* stmt) const {
    return read_run_record(conn_->path(), StatementRow{stmt});
  }

  // Deletes each run with everything stored under it; counts the runs that existed.
  Result<std::size_t> delete_each(const std::vector<std::string>& run_ids, std::string_view what) {
    std::size_t deleted = 0;
    for (const std::string& run_id : run_ids) {
      for (sqlite3_stmt* stmt : {delete_items_, delete_interrupts_, delete_initial_, delete_graph_,
                                 delete_state_, delete_run_}) {
        Reset reset(stmt);
        if (int rc = bind_text(stmt, 1, run_id); rc != SQLITE_OK)
          return conn_->error(what, rc);
        if (Result<void> ran = conn_->run(stmt, what); !ran)
          return ran.error();
      }
      deleted += conn_->changes() > 0 ? 1 : 0; // of delete_run_, the last
      if (Result<void> gone = journal_.delete_run(run_id, what); !gone)
        return gone.error();
    }
    if (Result<void> swept = journal_.sweep(what); !swept)
      return swept.error();
    return deleted;
  }

  std::unique_ptr<Connection> conn_;
  SqliteItems items_{*conn_};
  SqliteInterrupts interrupts_{*conn_};
  SqliteBatchJournal journal_{*conn_};
  sqlite3_stmt* insert_run_ = nullptr;
  sqlite3_stmt* insert_initial_ = nullptr;
  sqlite3_stmt* insert_graph_ = nullptr;
  sqlite3_stmt* select_graph_ = nullptr;
  sqlite3_stmt* delete_graph_ = nullptr;
  sqlite3_stmt* select_run_ = nullptr;
  sqlite3_stmt* reopen_run_ = nullptr;
  sqlite3_stmt* update_step_ = nullptr;
  sqlite3_stmt* upsert_state_ = nullptr;
  sqlite3_stmt* end_run_ = nullptr;
  sqlite3_stmt* list_runs_ = nullptr;
  sqlite3_stmt* ended_before_ = nullptr;
  sqlite3_stmt* delete_items_ = nullptr;
  sqlite3_stmt* delete_interrupts_ = nullptr;
  sqlite3_stmt* delete_initial_ = nullptr;
  sqlite3_stmt* delete_state_ = nullptr;
  sqlite3_stmt* delete_run_ = nullptr;
};

} // namespace

Result<CheckpointStorePtr> detail::open_sqlite_checkpoint_store(const std::string& path) {
  OpenOptions options;
  options.on_corruption = OnCorruption::fail;
  // A durable batch commits its items as they settle: a commit must not wait for a checkpoint.
  options.checkpoint_in_background = true;
  // What the file holds, as the check on opening found.
  detail::StoreFile found = detail::StoreFile::empty;
  options.inspect = [&path, &found](sqlite3* db) -> Result<void> {
    auto ours = detail::identify_checkpoint_store(db, path);
    if (!ours)
      return ours.error();
    found = *ours;
    return {};
  };
  Result<std::unique_ptr<Connection>> opened = Connection::open(path, options);
  if (!opened)
    return opened.error();
  Connection& conn = **opened;

  // A current store is opened without the write lock: `actorflow runs list` must not wait
  // behind a run that is writing. A new or older one takes it once, to create or upgrade.
  if (found != detail::StoreFile::current) {
    if (Result<void> created = detail::create_checkpoint_tables(conn, path); !created)
      return created.error();
  }

  auto store = std::make_shared<SqliteCheckpointStore>(std::move(*opened));
  if (Result<void> prepared = store->prepare(); !prepared)
    return prepared.error();
  return CheckpointStorePtr(std::move(store));
}

} // namespace actorflow
