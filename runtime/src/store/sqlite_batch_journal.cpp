// The batch journal of the SQLite checkpoint store: a job row per uploaded input file (its job
// id filled in once the server has created the job) and a row per call, which moves to the job
// that holds the call now (a resubmission) and goes when its run is deleted or the call is
// forgotten. A job no call is left in goes with its last call.

#include "store/sqlite_batch_journal.hpp"

#include "store/sqlite_rows.hpp"

#include <mutex>
#include <utility>

namespace actorflow::detail::sqlite {

Result<void> SqliteBatchJournal::prepare() {
  return prepare_all(
      conn_,
      {// A job's row as given (a server that reuses file ids gets no stale job id).
       {&upsert_job_, "INSERT INTO batch_jobs (server, input_file_id, job_id, endpoint, "
                      "created_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
                      "ON CONFLICT (server, input_file_id) DO UPDATE SET "
                      "job_id = excluded.job_id, endpoint = excluded.endpoint"},
       {&upsert_call_, "INSERT OR REPLACE INTO batch_calls (custom_id, run_id, server, "
                       "input_file_id) VALUES (?1, ?2, ?3, ?4)"},
       {&select_call_, "SELECT batch_jobs.server, batch_jobs.input_file_id, batch_jobs.job_id, "
                       "batch_jobs.endpoint FROM batch_calls JOIN batch_jobs "
                       "ON batch_jobs.server = batch_calls.server "
                       "AND batch_jobs.input_file_id = batch_calls.input_file_id "
                       "WHERE batch_calls.custom_id = ?1"},
       {&delete_call_, "DELETE FROM batch_calls WHERE custom_id = ?1"},
       {&delete_run_calls_, "DELETE FROM batch_calls WHERE run_id = ?1"},
       {&sweep_jobs_, "DELETE FROM batch_jobs WHERE NOT EXISTS (SELECT 1 FROM batch_calls "
                      "WHERE batch_calls.server = batch_jobs.server "
                      "AND batch_calls.input_file_id = batch_jobs.input_file_id)"}});
}

Result<void> SqliteBatchJournal::save(const BatchJobRecord& job) {
  if (job.input_file_id.empty())
    return Error{Errc::bad_input, conn_.path() + ": save_batch_job: the input file id is empty"};
  std::lock_guard lock(conn_.mutex());
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("save_batch_job"); !begun)
    return begun.error();
  {
    Reset reset(upsert_job_);
    int rc = bind_text(upsert_job_, 1, job.server);
    if (rc == SQLITE_OK)
      rc = bind_text(upsert_job_, 2, job.input_file_id);
    if (rc == SQLITE_OK)
      rc = bind_text(upsert_job_, 3, job.job_id);
    if (rc == SQLITE_OK)
      rc = bind_text(upsert_job_, 4, job.endpoint);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_int64(upsert_job_, 5, now_ms());
    if (rc != SQLITE_OK)
      return conn_.error("save_batch_job", rc);
    if (Result<void> ran = conn_.run(upsert_job_, "save_batch_job"); !ran)
      return ran;
  }
  for (const BatchJobRecord::Call& call : job.calls) {
    Reset reset(upsert_call_);
    int rc = bind_text(upsert_call_, 1, call.custom_id);
    if (rc == SQLITE_OK)
      rc = bind_text(upsert_call_, 2, call.run_id);
    if (rc == SQLITE_OK)
      rc = bind_text(upsert_call_, 3, job.server);
    if (rc == SQLITE_OK)
      rc = bind_text(upsert_call_, 4, job.input_file_id);
    if (rc != SQLITE_OK)
      return conn_.error("save_batch_job", rc);
    if (Result<void> ran = conn_.run(upsert_call_, "save_batch_job"); !ran)
      return ran;
  }
  // Calls that moved here from an earlier job may have left it empty (and a job saved with
  // no call of its own is not kept).
  if (Result<void> swept = sweep("save_batch_job"); !swept)
    return swept;
  return tx.commit("save_batch_job");
}

Result<std::optional<BatchJobRecord>> SqliteBatchJournal::find(std::string_view custom_id) {
  std::lock_guard lock(conn_.mutex());
  Reset reset(select_call_);
  int rc = bind_text(select_call_, 1, custom_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(select_call_);
  if (rc == SQLITE_DONE)
    return std::optional<BatchJobRecord>();
  if (rc != SQLITE_ROW)
    return conn_.error("find_batch_call", rc);
  BatchJobRecord job;
  job.server = column_text(select_call_, 0);
  job.input_file_id = column_text(select_call_, 1);
  job.job_id = column_text(select_call_, 2);
  job.endpoint = column_text(select_call_, 3);
  return std::optional<BatchJobRecord>(std::move(job));
}

Result<void> SqliteBatchJournal::forget(const std::vector<std::string>& custom_ids) {
  if (custom_ids.empty())
    return {};
  std::lock_guard lock(conn_.mutex());
  Transaction tx(conn_);
  if (Result<void> begun = tx.begin("forget_batch_calls"); !begun)
    return begun.error();
  for (const std::string& id : custom_ids) {
    Reset reset(delete_call_);
    if (int rc = bind_text(delete_call_, 1, id); rc != SQLITE_OK)
      return conn_.error("forget_batch_calls", rc);
    if (Result<void> ran = conn_.run(delete_call_, "forget_batch_calls"); !ran)
      return ran;
  }
  if (Result<void> swept = sweep("forget_batch_calls"); !swept)
    return swept;
  return tx.commit("forget_batch_calls");
}

Result<void> SqliteBatchJournal::delete_run(std::string_view run_id, std::string_view what) {
  Reset reset(delete_run_calls_);
  if (int rc = bind_text(delete_run_calls_, 1, run_id); rc != SQLITE_OK)
    return conn_.error(what, rc);
  return conn_.run(delete_run_calls_, what);
}

Result<void> SqliteBatchJournal::sweep(std::string_view what) {
  Reset reset(sweep_jobs_);
  return conn_.run(sweep_jobs_, what);
}

} // namespace actorflow::detail::sqlite
