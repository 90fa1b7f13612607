// The interrupts of the PostgreSQL checkpoint store: saved as they are raised and change,
// answered from any process, loaded in raise order for a resume. Two processes answering at
// once: the second UPDATE waits for the first's row lock, then finds the interrupt no longer
// pending, and changes nothing.

#include "store/postgres_interrupts.hpp"

#include <actorflow/value.hpp>

#include "store/checkpoint_rows.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace actorflow::detail::postgres {

Result<void> PostgresInterrupts::prepare() {
  return conn_.prepare(
      {// Inserting from `runs` adds nothing for an unknown run: no row changed and no run is
       // no run. A new interrupt takes the run's next seq; a known one keeps its seq and
       // question.
       {"interrupts_upsert",
        "INSERT INTO interrupts (run_id, id, seq, node, item, question, status, answer, "
        "created_ms, updated_ms) SELECT $1::text, $2::text, (SELECT coalesce(max(seq), 0) + 1 "
        "FROM interrupts WHERE run_id = $1::text), $3::text, $4::bigint, $5::bytea, $6::text, "
        "$7::bytea, $8::bigint, $8::bigint FROM runs WHERE id = $1::text "
        "ON CONFLICT (run_id, id) DO UPDATE SET status = excluded.status, "
        "answer = excluded.answer, updated_ms = excluded.updated_ms "
        // An answer stays: given in the store by another process, it must not be lost to a
        // replay that raises its interrupt again, or to a timeout or cancel elsewhere.
        "WHERE interrupts.status NOT IN ('answered', 'defaulted')"},
       // Taken first by a save: two processes saving new interrupts of one run at once would
       // both read the same max(seq) otherwise.
       {"interrupts_run_lock", "SELECT 1 FROM runs WHERE id = $1::text FOR UPDATE"},
       {"interrupts_answer", "UPDATE interrupts SET status = 'answered', answer = $3::bytea, "
                             "updated_ms = $4::bigint WHERE run_id = $1::text AND id = $2::text "
                             "AND status = 'pending'"},
       // No row: no run; a NULL status: no such interrupt.
       {"interrupts_status", "SELECT interrupts.status FROM runs LEFT JOIN interrupts "
                             "ON interrupts.run_id = runs.id AND interrupts.id = $2::text "
                             "WHERE runs.id = $1::text"},
       {"interrupts_select",
        "SELECT interrupts.id, interrupts.node, interrupts.item, interrupts.question, "
        "interrupts.status, interrupts.answer FROM runs "
        "LEFT JOIN interrupts ON interrupts.run_id = runs.id WHERE runs.id = $1::text "
        "ORDER BY interrupts.seq, interrupts.created_ms"}});
}

Result<void> PostgresInterrupts::save(std::string_view run_id, const Interrupt& interrupt) {
  if (interrupt.id.empty())
    return Error{Errc::bad_input, conn_.name() + ": save_interrupt: the interrupt id is empty"};
  const std::vector<std::uint8_t> question = to_msgpack(interrupt.question);
  const std::vector<std::uint8_t> answer = to_msgpack(interrupt.answer);
  Params params;
  params.text(run_id).text(interrupt.id).text(interrupt.node);
  if (interrupt.item)
    params.int64(static_cast<std::int64_t>(*interrupt.item));
  else
    params.null();
  params.bytes(question).text(to_string(interrupt.status)).bytes(answer).int64(now_ms());

  std::lock_guard lock(conn_.mutex());
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("save_interrupt"); !begun)
    return begun;
  Params run;
  run.text(run_id);
  Result<Rows> locked = conn_.run("interrupts_run_lock", run, "save_interrupt");
  if (!locked)
    return locked.error();
  if (locked->empty())
    return no_run(conn_.name(), run_id);
  // No row changed is no error: an answer stays (see the statement).
  Result<Rows> saved = conn_.run("interrupts_upsert", params, "save_interrupt");
  if (!saved)
    return saved.error();
  return tx.commit("save_interrupt");
}

Result<void> PostgresInterrupts::answer(std::string_view run_id, std::string_view id,
                                        const Value& answer) {
  const std::vector<std::uint8_t> bytes = to_msgpack(answer);
  std::lock_guard lock(conn_.mutex());
  // The UPDATE alone decides who wins; the transaction keeps the reason for a loss (read
  // next) consistent with it.
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("answer_interrupt"); !begun)
    return begun;
  Params params;
  params.text(run_id).text(id).bytes(bytes).int64(now_ms());
  Result<Rows> answered = conn_.run("interrupts_answer", params, "answer_interrupt");
  if (!answered)
    return answered.error();
  if (answered->changed() > 0)
    return tx.commit("answer_interrupt");

  Params key;
  key.text(run_id).text(id);
  Result<Rows> status = conn_.run("interrupts_status", key, "answer_interrupt");
  if (!status)
    return status.error();
  if (status->empty())
    return no_run(conn_.name(), run_id);
  if (status->is_null(0, 0))
    return not_answerable(run_id, id, std::nullopt);
  return not_answerable(run_id, id, status->text(0, 0));
}

Result<std::vector<Interrupt>> PostgresInterrupts::load(std::string_view run_id) {
  Result<Rows> rows = Error{};
  {
    std::lock_guard lock(conn_.mutex());
    Params params;
    params.text(run_id);
    rows = conn_.run("interrupts_select", params, "load_interrupts");
  }
  if (!rows)
    return rows.error();
  if (rows->empty())
    return no_run(conn_.name(), run_id);
  std::vector<Interrupt> interrupts;
  for (int row = 0; row < rows->size(); ++row) {
    if (rows->is_null(row, 0))
      continue; // the run, without interrupts
    Interrupt interrupt;
    interrupt.id = rows->text(row, 0);
    interrupt.node = rows->text(row, 1);
    if (!rows->is_null(row, 2))
      interrupt.item = static_cast<std::size_t>(rows->count(row, 2));
    const std::string of = " of interrupt '" + interrupt.id + "'";
    const std::string_view status_name = rows->text(row, 4);
    const std::optional<InterruptStatus> status = interrupt_status_named(status_name);
    if (!status)
      return undecodable(
          conn_.name(), run_id, "the status" + of,
          Error{Errc::bad_input, "unknown status '" + std::string(status_name) + "'"});
    interrupt.status = *status;
    Result<Value> question = from_msgpack(rows->bytes(row, 3));
    if (!question)
      return undecodable(conn_.name(), run_id, "the question" + of, question.error());
    interrupt.question = std::move(*question);
    Result<Value> answer = from_msgpack(rows->bytes(row, 5));
    if (!answer)
      return undecodable(conn_.name(), run_id, "the answer" + of, answer.error());
    interrupt.answer = std::move(*answer);
    interrupts.push_back(std::move(interrupt));
  }
  return interrupts;
}

} // namespace actorflow::detail::postgres
