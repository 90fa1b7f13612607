// The interrupts of the SQLite checkpoint store: saved as they are raised and change, answered
// from any process (the UPDATE decides who wins), loaded in raise order for a resume.

#include "store/sqlite_interrupts.hpp"

#include <actorflow/value.hpp>

#include "store/sqlite_rows.hpp"

#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace actorflow::detail::sqlite {

Result<void> SqliteInterrupts::prepare() {
  return prepare_all(
      conn_,
      {{&run_exists_, run_exists_sql},
       // Inserting from `runs` adds nothing for an unknown run: no row changed means no run.
       // A new interrupt takes the run's next seq; a known one keeps its seq and question.
       {&upsert_,
        "INSERT INTO interrupts (run_id, id, seq, node, item, question, status, answer, "
        "created_ms, updated_ms) SELECT ?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM "
        "interrupts WHERE run_id = ?1), ?3, ?4, ?5, ?6, ?7, ?8, ?8 FROM runs WHERE id = ?1 "
        "ON CONFLICT (run_id, id) DO UPDATE SET status = excluded.status, "
        "answer = excluded.answer, updated_ms = excluded.updated_ms "
        // An answer stays: given in the store by another process, it must not be lost to
        // a replay that raises its interrupt again, or to a timeout or cancel elsewhere.
        "WHERE interrupts.status NOT IN ('answered', 'defaulted')"},
       {&answer_, "UPDATE interrupts SET status = 'answered', answer = ?3, "
                  "updated_ms = ?4 WHERE run_id = ?1 AND id = ?2 "
                  "AND status = 'pending'"},
       // No row: no run; a NULL status: no such interrupt.
       {&status_, "SELECT interrupts.status FROM runs LEFT JOIN interrupts "
                  "ON interrupts.run_id = runs.id AND interrupts.id = ?2 "
                  "WHERE runs.id = ?1"},
       {&select_, "SELECT interrupts.id, interrupts.node, interrupts.item, interrupts.question, "
                  "interrupts.status, interrupts.answer FROM runs "
                  "LEFT JOIN interrupts ON interrupts.run_id = runs.id WHERE runs.id = ?1 "
                  "ORDER BY interrupts.seq"}});
}

Result<void> SqliteInterrupts::save(std::string_view run_id, const Interrupt& interrupt) {
  if (interrupt.id.empty())
    return Error{Errc::bad_input, conn_.path() + ": save_interrupt: the interrupt id is empty"};
  const std::vector<std::uint8_t> question = to_msgpack(interrupt.question);
  const std::vector<std::uint8_t> answer = to_msgpack(interrupt.answer);
  std::lock_guard lock(conn_.mutex());
  Reset reset(upsert_);
  int rc = bind_text(upsert_, 1, run_id);
  if (rc == SQLITE_OK)
    rc = bind_text(upsert_, 2, interrupt.id);
  if (rc == SQLITE_OK)
    rc = bind_text(upsert_, 3, interrupt.node);
  if (rc == SQLITE_OK)
    rc = interrupt.item
             ? sqlite3_bind_int64(upsert_, 4, static_cast<sqlite3_int64>(*interrupt.item))
             : sqlite3_bind_null(upsert_, 4);
  if (rc == SQLITE_OK)
    rc = bind_blob(upsert_, 5, question);
  if (rc == SQLITE_OK)
    rc = bind_text(upsert_, 6, to_string(interrupt.status));
  if (rc == SQLITE_OK)
    rc = bind_blob(upsert_, 7, answer);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(upsert_, 8, now_ms());
  if (rc != SQLITE_OK)
    return conn_.error("save_interrupt", rc);
  if (Result<void> ran = conn_.run(upsert_, "save_interrupt"); !ran)
    return ran;
  if (conn_.changes() != 0)
    return {};
  // Nothing changed: no such run, or an answer that stays (see the statement).
  auto known = run_known(conn_, run_exists_, run_id, "save_interrupt");
  if (!known)
    return known.error();
  if (!*known)
    return no_run(conn_, run_id);
  return {};
}

Result<void> SqliteInterrupts::answer(std::string_view run_id, std::string_view id,
                                      const Value& answer) {
  const std::vector<std::uint8_t> bytes = to_msgpack(answer);
  std::lock_guard lock(conn_.mutex());
  // The UPDATE alone decides who wins; the transaction keeps the reason for a loss (read
  // next) consistent with it.
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("answer_interrupt"); !begun)
    return begun.error();
  {
    Reset reset(answer_);
    int rc = bind_text(answer_, 1, run_id);
    if (rc == SQLITE_OK)
      rc = bind_text(answer_, 2, id);
    if (rc == SQLITE_OK)
      rc = bind_blob(answer_, 3, bytes);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_int64(answer_, 4, now_ms());
    if (rc != SQLITE_OK)
      return conn_.error("answer_interrupt", rc);
    if (Result<void> ran = conn_.run(answer_, "answer_interrupt"); !ran)
      return ran;
  }
  if (conn_.changes() > 0)
    return tx.commit("answer_interrupt");

  Reset reset(status_);
  int rc = bind_text(status_, 1, run_id);
  if (rc == SQLITE_OK)
    rc = bind_text(status_, 2, id);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(status_);
  if (rc == SQLITE_DONE)
    return no_run(conn_, run_id);
  if (rc != SQLITE_ROW)
    return conn_.error("answer_interrupt", rc);
  if (sqlite3_column_type(status_, 0) == SQLITE_NULL)
    return not_answerable(run_id, id, std::nullopt);
  return not_answerable(run_id, id, column_text(status_, 0));
}

Result<std::vector<Interrupt>> SqliteInterrupts::load(std::string_view run_id) {
  struct Row {
    Interrupt interrupt;
    std::string status;
    std::vector<std::uint8_t> question, answer;
  };
  std::vector<Row> rows;
  {
    std::lock_guard lock(conn_.mutex());
    Reset reset(select_);
    int rc = bind_text(select_, 1, run_id);
    if (rc == SQLITE_OK)
      rc = sqlite3_step(select_);
    if (rc == SQLITE_DONE)
      return no_run(conn_, run_id);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(select_)) {
      if (sqlite3_column_type(select_, 0) == SQLITE_NULL)
        continue; // the run, without interrupts
      Row& row = rows.emplace_back();
      row.interrupt.id = column_text(select_, 0);
      row.interrupt.node = column_text(select_, 1);
      if (sqlite3_column_type(select_, 2) != SQLITE_NULL)
        row.interrupt.item = static_cast<std::size_t>(count_of(select_, 2));
      const std::span<const std::uint8_t> question = column_blob(select_, 3);
      row.question.assign(question.begin(), question.end());
      row.status = column_text(select_, 4);
      const std::span<const std::uint8_t> answer = column_blob(select_, 5);
      row.answer.assign(answer.begin(), answer.end());
    }
    if (rc != SQLITE_DONE)
      return conn_.error("load_interrupts", rc);
  }
  std::vector<Interrupt> interrupts;
  interrupts.reserve(rows.size());
  for (Row& row : rows) {
    const std::string of = " of interrupt '" + row.interrupt.id + "'";
    const std::optional<InterruptStatus> status = interrupt_status_named(row.status);
    if (!status)
      return undecodable(conn_, run_id, "the status" + of,
                         Error{Errc::bad_input, "unknown status '" + row.status + "'"});
    row.interrupt.status = *status;
    Result<Value> question = from_msgpack(row.question);
    if (!question)
      return undecodable(conn_, run_id, "the question" + of, question.error());
    row.interrupt.question = std::move(*question);
    Result<Value> answer = from_msgpack(row.answer);
    if (!answer)
      return undecodable(conn_, run_id, "the answer" + of, answer.error());
    row.interrupt.answer = std::move(*answer);
    interrupts.push_back(std::move(row.interrupt));
  }
  return interrupts;
}

} // namespace actorflow::detail::sqlite
