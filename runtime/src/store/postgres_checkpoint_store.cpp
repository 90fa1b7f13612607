// The PostgreSQL CheckpointStore: for runs that several machines must resume, or that must
// outlive the host that began them. One connection (store/postgres.hpp) behind its mutex
// serves every thread; each call is one statement or one transaction, so it is atomic against
// every other store object, process and machine on the same database. The tables are
// store/postgres_schema.hpp's; the values the same msgpack bytes as in an SQLite file.

#include <actorflow/checkpoint.hpp>

#include "store/checkpoint_rows.hpp"
#include "store/checkpoint_stores.hpp"
#include "store/postgres.hpp"
#include "store/postgres_batch_journal.hpp"
#include "store/postgres_interrupts.hpp"
#include "store/postgres_items.hpp"
#include "store/postgres_schema.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actorflow {

using namespace detail;
using namespace detail::postgres;

namespace {

// A row of a result, as read_run_record reads it.
struct ResultRow {
  const Rows& rows;
  int row;
  [[nodiscard]] std::string_view text(int column) const { return rows.text(row, column); }
  [[nodiscard]] std::uint64_t count(int column) const { return rows.count(row, column); }
  [[nodiscard]] std::int64_t int64(int column) const { return rows.int64(row, column); }
};

// The runs, their steps and their deletion; items, interrupts and the journal are their own
// classes' (store/postgres_*.hpp). Encodes and decodes msgpack outside the mutex.
class PostgresCheckpointStore final : public CheckpointStore {
public:
  explicit PostgresCheckpointStore(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  Result<void> prepare() {
    std::lock_guard lock(conn_->mutex());
    if (Result<void> prepared = items_.prepare(); !prepared)
      return prepared;
    if (Result<void> prepared = interrupts_.prepare(); !prepared)
      return prepared;
    if (Result<void> prepared = journal_.prepare(); !prepared)
      return prepared;
    return conn_->prepare(
        {{"runs_insert", "INSERT INTO runs (id, flow, status, created_ms, updated_ms) "
                         "VALUES ($1::text, $2::text, 'running', $3::bigint, $3::bigint) "
                         "ON CONFLICT (id) DO NOTHING"},
         {"runs_insert_graph", "INSERT INTO graphs (run_id, graph) VALUES ($1::text, $2::text) "
                               "ON CONFLICT (run_id) DO UPDATE SET graph = excluded.graph"},
         {"runs_select_graph", "SELECT graphs.graph FROM runs LEFT JOIN graphs "
                               "ON graphs.run_id = runs.id WHERE runs.id = $1::text"},
         {"runs_insert_initial", "INSERT INTO initial_states (run_id, state) "
                                 "VALUES ($1::text, $2::bytea) ON CONFLICT (run_id) "
                                 "DO UPDATE SET state = excluded.state"},
         {"runs_select", "SELECT " ACTORFLOW_RUN_COLUMNS ", initial_states.state, "
                         "last_states.state FROM runs "
                         "LEFT JOIN initial_states ON initial_states.run_id = runs.id "
                         "LEFT JOIN last_states ON last_states.run_id = runs.id "
                         "WHERE runs.id = $1::text"},
         {"runs_reopen", "UPDATE runs SET status = 'running', error = '', ended_ms = NULL, "
                         "updated_ms = $2::bigint WHERE id = $1::text"},
         {"runs_update_step", "UPDATE runs SET steps = $2::bigint, last_node = $3::text, "
                              "next_node = $4::text, updated_ms = $5::bigint, "
                              "cost_nanos = GREATEST(cost_nanos, $6::bigint) WHERE id = $1::text"},
         {"runs_upsert_state", "INSERT INTO last_states (run_id, state) "
                               "VALUES ($1::text, $2::bytea) ON CONFLICT (run_id) "
                               "DO UPDATE SET state = excluded.state"},
         {"runs_end", "UPDATE runs SET status = $2::text, error = $3::text, "
                      "ended_ms = $4::bigint, updated_ms = $4::bigint, "
                      "cost_nanos = GREATEST(cost_nanos, $5::bigint) WHERE id = $1::text"},
         {"runs_list",
          "SELECT " ACTORFLOW_RUN_COLUMNS " FROM runs ORDER BY created_ms DESC, ord DESC"},
         {"runs_ended_before",
          "SELECT id FROM runs WHERE status <> 'running' AND ended_ms < $1::bigint"},
         {"runs_delete_items", "DELETE FROM items WHERE run_id = $1::text"},
         {"runs_delete_interrupts", "DELETE FROM interrupts WHERE run_id = $1::text"},
         {"runs_delete_initial", "DELETE FROM initial_states WHERE run_id = $1::text"},
         {"runs_delete_state", "DELETE FROM last_states WHERE run_id = $1::text"},
         {"runs_delete_graph", "DELETE FROM graphs WHERE run_id = $1::text"},
         {"runs_delete", "DELETE FROM runs WHERE id = $1::text"}});
  }

  Result<void> begin_run(std::string_view run_id, std::string_view flow, const State& initial,
                         std::string_view graph = {}) override {
    if (run_id.empty())
      return Error{Errc::bad_input, conn_->name() + ": begin_run: the run id is empty"};
    const std::vector<std::uint8_t> bytes = to_msgpack(initial);
    std::lock_guard lock(conn_->mutex());
    Transaction tx(*conn_);
    if (Result<void> begun = tx.begin("begin_run"); !begun)
      return begun;
    Params run;
    run.text(run_id).text(flow).int64(now_ms());
    Result<Rows> inserted = conn_->run("runs_insert", run, "begin_run");
    if (!inserted)
      return inserted.error();
    if (inserted->changed() == 0)
      return run_recorded_already(conn_->name(), run_id);
    Params state;
    state.text(run_id).bytes(bytes);
    if (Result<Rows> stored = conn_->run("runs_insert_initial", state, "begin_run"); !stored)
      return stored.error();
    if (!graph.empty()) {
      Params drawn;
      drawn.text(run_id).text(graph);
      if (Result<Rows> stored = conn_->run("runs_insert_graph", drawn, "begin_run"); !stored)
        return stored.error();
    }
    return tx.commit("begin_run");
  }

  Result<Resumable> load_run(std::string_view run_id) override {
    Result<Rows> rows = Error{};
    {
      std::lock_guard lock(conn_->mutex());
      Params params;
      params.text(run_id);
      rows = conn_->run("runs_select", params, "load_run");
    }
    if (!rows)
      return rows.error();
    if (rows->empty())
      return no_run(conn_->name(), run_id);
    Result<RunRecord> record = read_record(*rows, 0);
    if (!record)
      return record.error();
    if (rows->is_null(0, run_column_count))
      return undecodable(conn_->name(), run_id, "its initial State",
                         Error{Errc::bad_input, "it is missing"});
    Result<State> initial = state_from_msgpack(rows->bytes(0, run_column_count));
    if (!initial)
      return undecodable(conn_->name(), run_id, "its initial State", initial.error());
    Resumable resumable{std::move(*record), std::move(*initial), std::nullopt};
    if (!rows->is_null(0, run_column_count + 1)) {
      Result<State> state = state_from_msgpack(rows->bytes(0, run_column_count + 1));
      if (!state)
        return undecodable(conn_->name(), run_id, "its last step's State", state.error());
      const RunRecord& run = resumable.record;
      resumable.last_step =
          StepCheckpoint{run.steps, run.last_node, run.next_node, std::move(*state), run.cost};
    }
    return resumable;
  }

  Result<void> reopen_run(std::string_view run_id) override {
    Params params;
    params.text(run_id).int64(now_ms());
    std::lock_guard lock(conn_->mutex());
    return update_run("runs_reopen", params, run_id, "reopen_run");
  }

  Result<void> commit_step(std::string_view run_id, const StepCheckpoint& step) override {
    const std::vector<std::uint8_t> bytes = to_msgpack(step.state);
    std::lock_guard lock(conn_->mutex());
    Transaction tx(*conn_);
    if (Result<void> begun = tx.begin("commit_step"); !begun)
      return begun;
    Params position;
    position.text(run_id)
        .int64(static_cast<std::int64_t>(step.step))
        .text(step.node)
        .text(step.next_node)
        .int64(now_ms())
        .int64(to_nanos(step.cost));
    if (Result<void> updated = update_run("runs_update_step", position, run_id, "commit_step");
        !updated)
      return updated;
    Params state;
    state.text(run_id).bytes(bytes);
    if (Result<Rows> stored = conn_->run("runs_upsert_state", state, "commit_step"); !stored)
      return stored.error();
    return tx.commit("commit_step");
  }

  Result<void> commit_items(std::string_view run_id, const std::vector<ItemCheckpoint>& items,
                            double cost = 0) override {
    return items_.commit(run_id, items, cost);
  }

  Result<ItemPage> list_items(std::string_view run_id, const ItemQuery& query) override {
    return items_.list(run_id, query);
  }

  Result<std::string> load_graph(std::string_view run_id) override {
    Params params;
    params.text(run_id);
    Result<Rows> rows = Error{};
    {
      std::lock_guard lock(conn_->mutex());
      rows = conn_->run("runs_select_graph", params, "load_graph");
    }
    if (!rows)
      return rows.error();
    if (rows->empty())
      return no_run(conn_->name(), run_id);
    return std::string(rows->text(0, 0)); // "" for NULL: no graph recorded
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

  [[nodiscard]] bool keeps_batch_journal() const noexcept override { return true; }
  Result<void> save_batch_job(const BatchJobRecord& job) override { return journal_.save(job); }
  Result<std::optional<BatchJobRecord>> find_batch_call(std::string_view custom_id) override {
    return journal_.find(custom_id);
  }
  Result<void> forget_batch_calls(const std::vector<std::string>& custom_ids) override {
    return journal_.forget(custom_ids);
  }

  Result<void> end_run(std::string_view run_id, RunStatus status, std::string_view error,
                       double cost = 0) override {
    if (status == RunStatus::running)
      return Error{Errc::bad_input, conn_->name() + ": end_run: 'running' is no end"};
    Params params;
    params.text(run_id).text(to_string(status)).text(error).int64(now_ms()).int64(to_nanos(cost));
    std::lock_guard lock(conn_->mutex());
    return update_run("runs_end", params, run_id, "end_run");
  }

  Result<std::vector<RunRecord>> list_runs() override {
    Result<Rows> rows = Error{};
    {
      std::lock_guard lock(conn_->mutex());
      rows = conn_->run("runs_list", Params{}, "list_runs");
    }
    if (!rows)
      return rows.error();
    std::vector<RunRecord> runs;
    runs.reserve(static_cast<std::size_t>(rows->size()));
    for (int row = 0; row < rows->size(); ++row) {
      Result<RunRecord> record = read_record(*rows, row);
      if (!record)
        return record.error();
      runs.push_back(std::move(*record));
    }
    return runs;
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
    Params params;
    params.int64(to_ms(before));
    Result<Rows> ended = conn_->run("runs_ended_before", params, "delete_ended_before");
    if (!ended)
      return ended.error();
    std::vector<std::string> run_ids;
    run_ids.reserve(static_cast<std::size_t>(ended->size()));
    for (int row = 0; row < ended->size(); ++row)
      run_ids.emplace_back(ended->text(row, 0));
    Result<std::size_t> deleted = delete_each(run_ids, "delete_ended_before");
    if (!deleted)
      return deleted;
    if (Result<void> done = tx.commit("delete_ended_before"); !done)
      return done.error();
    return deleted;
  }

private:
  // -- helpers; each expects the mutex held ---------------------------------------------------

  // Runs an UPDATE of the run `run_id`; no row changed means no run.
  Result<void> update_run(const char* statement, const Params& params, std::string_view run_id,
                          std::string_view what) {
    Result<Rows> updated = conn_->run(statement, params, what);
    if (!updated)
      return updated.error();
    if (updated->changed() == 0)
      return no_run(conn_->name(), run_id);
    return {};
  }

  // The RunRecord in row `row` of a result that selects ACTORFLOW_RUN_COLUMNS first.
  Result<RunRecord> read_record(const Rows& rows, int row) const {
    return read_run_record(conn_->name(), ResultRow{rows, row});
  }

  // Deletes each run with everything stored under it; counts the runs that existed.
  Result<std::size_t> delete_each(const std::vector<std::string>& run_ids, std::string_view what) {
    std::size_t deleted = 0;
    for (const std::string& run_id : run_ids) {
      Params params;
      params.text(run_id);
      for (const char* statement :
           {"runs_delete_items", "runs_delete_interrupts", "runs_delete_initial",
            "runs_delete_state", "runs_delete_graph"})
        if (Result<Rows> gone = conn_->run(statement, params, what); !gone)
          return gone.error();
      Result<Rows> run = conn_->run("runs_delete", params, what);
      if (!run)
        return run.error();
      deleted += run->changed() > 0 ? 1 : 0;
      if (Result<void> gone = journal_.delete_run(run_id, what); !gone)
        return gone.error();
    }
    if (Result<void> swept = journal_.sweep(what); !swept)
      return swept.error();
    return deleted;
  }

  std::unique_ptr<Connection> conn_;
  PostgresItems items_{*conn_};
  PostgresInterrupts interrupts_{*conn_};
  PostgresBatchJournal journal_{*conn_};
};

} // namespace

Result<CheckpointStorePtr> detail::open_postgres_checkpoint_store(const std::string& url) {
  Result<std::unique_ptr<Connection>> opened = Connection::open(url);
  if (!opened)
    return opened.error();
  {
    std::lock_guard lock((*opened)->mutex());
    if (Result<void> tables = ensure_checkpoint_tables(**opened); !tables)
      return tables.error();
  }
  auto store = std::make_shared<PostgresCheckpointStore>(std::move(*opened));
  if (Result<void> prepared = store->prepare(); !prepared)
    return prepared.error();
  return CheckpointStorePtr(std::move(store));
}

} // namespace actorflow
