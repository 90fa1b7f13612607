// The batch journal of the PostgreSQL checkpoint store, as the SQLite one: a job row per
// uploaded input file (its job id filled in once the server has created the job) and a row per
// call, which moves to the job that holds the call now and goes when its run is deleted or the
// call is forgotten. A job no call is left in goes with its last call.

#include "store/postgres_batch_journal.hpp"

#include "store/checkpoint_rows.hpp"

#include <mutex>
#include <utility>

namespace actorflow::detail::postgres {

Result<void> PostgresBatchJournal::prepare() {
  return conn_.prepare(
      {// A job's row as given (a server that reuses file ids gets no stale job id).
       {"journal_upsert_job",
        "INSERT INTO batch_jobs (server, input_file_id, job_id, endpoint, created_ms) "
        "VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint) "
        "ON CONFLICT (server, input_file_id) DO UPDATE SET job_id = excluded.job_id, "
        "endpoint = excluded.endpoint"},
       {"journal_upsert_call",
        "INSERT INTO batch_calls (custom_id, run_id, server, input_file_id) "
        "VALUES ($1::text, $2::text, $3::text, $4::text) ON CONFLICT (custom_id) DO UPDATE "
        "SET run_id = excluded.run_id, server = excluded.server, "
        "input_file_id = excluded.input_file_id"},
       {"journal_select_call",
        "SELECT batch_jobs.server, batch_jobs.input_file_id, batch_jobs.job_id, "
        "batch_jobs.endpoint FROM batch_calls JOIN batch_jobs "
        "ON batch_jobs.server = batch_calls.server "
        "AND batch_jobs.input_file_id = batch_calls.input_file_id "
        "WHERE batch_calls.custom_id = $1::text"},
       {"journal_delete_call", "DELETE FROM batch_calls WHERE custom_id = $1::text"},
       {"journal_delete_run_calls", "DELETE FROM batch_calls WHERE run_id = $1::text"},
       {"journal_sweep_jobs", "DELETE FROM batch_jobs WHERE NOT EXISTS (SELECT 1 FROM batch_calls "
                              "WHERE batch_calls.server = batch_jobs.server "
                              "AND batch_calls.input_file_id = batch_jobs.input_file_id)"}});
}

Result<void> PostgresBatchJournal::save(const BatchJobRecord& job) {
  if (job.input_file_id.empty())
    return Error{Errc::bad_input, conn_.name() + ": save_batch_job: the input file id is empty"};
  std::lock_guard lock(conn_.mutex());
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("save_batch_job"); !begun)
    return begun;
  Params params;
  params.text(job.server)
      .text(job.input_file_id)
      .text(job.job_id)
      .text(job.endpoint)
      .int64(now_ms());
  if (Result<Rows> saved = conn_.run("journal_upsert_job", params, "save_batch_job"); !saved)
    return saved.error();
  for (const BatchJobRecord::Call& call : job.calls) {
    Params row;
    row.text(call.custom_id).text(call.run_id).text(job.server).text(job.input_file_id);
    if (Result<Rows> saved = conn_.run("journal_upsert_call", row, "save_batch_job"); !saved)
      return saved.error();
  }
  // Calls that moved here from an earlier job may have left it empty (and a job saved with
  // no call of its own is not kept).
  if (Result<void> swept = sweep("save_batch_job"); !swept)
    return swept;
  return tx.commit("save_batch_job");
}

Result<std::optional<BatchJobRecord>> PostgresBatchJournal::find(std::string_view custom_id) {
  std::lock_guard lock(conn_.mutex());
  Params params;
  params.text(custom_id);
  Result<Rows> found = conn_.run("journal_select_call", params, "find_batch_call");
  if (!found)
    return found.error();
  if (found->empty())
    return std::optional<BatchJobRecord>();
  BatchJobRecord job;
  job.server = found->text(0, 0);
  job.input_file_id = found->text(0, 1);
  job.job_id = found->text(0, 2);
  job.endpoint = found->text(0, 3);
  return std::optional<BatchJobRecord>(std::move(job));
}

Result<void> PostgresBatchJournal::forget(const std::vector<std::string>& custom_ids) {
  if (custom_ids.empty())
    return {};
  std::lock_guard lock(conn_.mutex());
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("forget_batch_calls"); !begun)
    return begun;
  for (const std::string& id : custom_ids) {
    Params params;
    params.text(id);
    if (Result<Rows> gone = conn_.run("journal_delete_call", params, "forget_batch_calls"); !gone)
      return gone.error();
  }
  if (Result<void> swept = sweep("forget_batch_calls"); !swept)
    return swept;
  return tx.commit("forget_batch_calls");
}

Result<void> PostgresBatchJournal::delete_run(std::string_view run_id, std::string_view what) {
  Params params;
  params.text(run_id);
  if (Result<Rows> gone = conn_.run("journal_delete_run_calls", params, what); !gone)
    return gone.error();
  return {};
}

Result<void> PostgresBatchJournal::sweep(std::string_view what) {
  if (Result<Rows> swept = conn_.run("journal_sweep_jobs", Params{}, what); !swept)
    return swept.error();
  return {};
}

} // namespace actorflow::detail::postgres
