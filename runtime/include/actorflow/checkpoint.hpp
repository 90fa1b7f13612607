#pragma once
/// Durable runs: a `CheckpointStore` records where a run stands, so that a run whose process
/// died continues where it left off (`Runtime::resume`) instead of paying again for the model
/// calls it had made.
///
/// ```cpp
/// auto store = open_checkpoint_store("runs.db").value();
/// RuntimeConfig config;
/// config.checkpoints = store;
/// Runtime runtime{std::move(config)};
/// auto result = runtime.run(flow, initial, RunOptions{.run_id = "nightly-2026-11-21"}).get();
/// // ... the process is killed; in a new one:
/// auto resumed = runtime.resume(flow, "nightly-2026-11-21").get();
/// ```
///
/// What is recorded, each piece once the work it records has ended (never before):
/// - the run: its id, its flow's name, its initial State, its status;
/// - after each node of the root flow completes (post included): the State and the node that
///   runs next. A nested flow is one step of its parent: resumed, it runs again from its start;
/// - inside a parallel batch (at any depth), each item's final outcome, success or failure, as
///   it completes, under a content-addressed key: the hash of (node path,
///   `ParallelBatchNode::checkpoint_version()`, the item's input as msgpack). A changed input
///   is new work; an unchanged one is found again, whatever its position. Items that never ran
///   to an outcome are not recorded, and run on resume: cancelled ones (the batch stopped
///   early, the run was cancelled) and those an open circuit turned away.
///
/// Delivery: a model call and its item's commit are not atomic. A crash between them runs the
/// item again on resume: at-least-once for calls, exactly-once in the reducer (which sees
/// every item of a batch once, committed or run anew).
///
/// What is stored is msgpack with a schema version (`checkpoint_schema_version`); a store
/// written by a newer actorflow is refused, not misread.

#include <actorflow/batch.hpp>
#include <actorflow/interrupt.hpp>
#include <actorflow/result.hpp>
#include <actorflow/state.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actorflow {

/// The layout of the store's tables and values; stored in the file and checked on open.
/// 2 added interrupts, 3 the batch journal, 4 what viewers read (each item's batch node and
/// position, a run's cost and flow graph); an older store is upgraded in place when it is
/// opened.
inline constexpr std::int64_t checkpoint_schema_version = 4;

/// `interrupted`: the Runtime that ran it shut down while some of its interrupts were pending;
/// answer them (`Runtime::answer`) and resume it.
enum class RunStatus : std::uint8_t { running, succeeded, failed, cancelled, interrupted };
/// "running", "succeeded", "failed", "cancelled", "interrupted".
[[nodiscard]] std::string_view to_string(RunStatus status) noexcept;

/// A run as the store knows it (`actorflow runs list|show`).
struct RunRecord {
  std::string run_id{};
  std::string flow{};
  RunStatus status = RunStatus::running;
  std::uint64_t steps = 0;      ///< root-flow nodes completed and committed
  std::string last_node{};      ///< the last of them ("" before the first)
  std::string next_node{};      ///< where a resume starts ("" once the flow has ended)
  std::uint64_t items_done = 0; ///< item outcomes committed (every batch of the run)
  std::uint64_t items_failed = 0;
  std::uint64_t tokens = 0;             ///< tokens of the committed items
  std::uint64_t pending_interrupts = 0; ///< interrupts waiting for an answer
  std::string error{};                  ///< why it failed or was cancelled
  /// US dollars of every model call the run made (by `RuntimeConfig::prices`), as of its last
  /// commit; a resumed run adds to it.
  double cost = 0;
  std::chrono::system_clock::time_point created{};
  std::chrono::system_clock::time_point updated{};
};

/// The root flow's position after a committed step.
struct StepCheckpoint {
  std::uint64_t step = 0;  ///< 1 for the first node
  std::string node{};      ///< the node that completed
  std::string next_node{}; ///< the node that runs next; "" when the flow ended with it
  State state{};
  double cost = 0; ///< the run's cost so far (see `RunRecord::cost`)
};

/// One item outcome to commit.
struct ItemCheckpoint {
  std::string key{}; ///< see `checkpoint_item_key`
  ItemOutcome outcome{};
  std::string node{}; ///< the batch node's path in the flow (e.g. "outer/summarise")
};

/// One committed item, as a viewer lists it.
struct ItemRecord {
  std::string key{};
  std::string node{}; ///< "" for an item committed before schema version 4
  ItemOutcome outcome{};
};

/// Which of a run's items `CheckpointStore::list_items` returns: by batch node, then by index.
struct ItemQuery {
  std::string node{};       ///< only this batch node's; "": every node's
  bool failed_only = false; ///< only the items that failed
  std::uint64_t offset = 0;
  std::uint64_t limit = 100;
};

/// A page of items, and the counts a viewer pages through.
struct ItemPage {
  std::vector<ItemRecord> items{};
  std::uint64_t total = 0; ///< items the query matches, of which `items` is [offset, +limit)
  /// Every batch node of the run with committed items: its path, items done and failed.
  struct NodeCount {
    std::string node{};
    std::uint64_t done = 0;
    std::uint64_t failed = 0;
  };
  std::vector<NodeCount> nodes{};
};

/// A job of a batch API as a batch provider journals it (actorflow/openai_batch.hpp), so that
/// a resumed run finds its calls' job again instead of submitting them twice.
struct BatchJobRecord {
  std::string server{};        ///< the API's base URL: file and job ids are the server's own
  std::string input_file_id{}; ///< the uploaded input; known before the job exists
  std::string job_id{};        ///< "" until the server has created the job
  std::string endpoint{};      ///< e.g. "/v1/chat/completions"
  /// The calls in it: each call's custom_id and its run's id.
  struct Call {
    std::string custom_id{};
    std::string run_id{};
  };
  std::vector<Call> calls{};
};

/// The key of an item of the batch node at `node_path`, version `node_version`, with `input`:
/// 32 hex digits of a 128-bit hash of the three (length-prefixed, so no two triples collide by
/// concatenation). The run id is not in it: keys live inside their run.
[[nodiscard]] std::string checkpoint_item_key(std::string_view node_path,
                                              std::string_view node_version, const Value& input);

/// Where runs are recorded. Implementations must be safe to call from any thread.
///
/// Errors: a call on a run id that is not recorded fails with bad_input "no run '<id>' in
/// <store>"; the store's own failures name the store (a file's path, a database's URL without
/// its password) and the operation (unavailable when another writer held the file too long,
/// the disk failed or the server cannot be reached). A failed call changes nothing.
class CheckpointStore {
public:
  virtual ~CheckpointStore() = default;

  /// Records a new run, with its flow's graph as JSON (`graph`: nodes, edges and nested flows,
  /// as `actorflow ui` draws them). Errors: bad_input when `run_id` is empty or
  /// already recorded.
  [[nodiscard]] virtual Result<void> begin_run(std::string_view run_id, std::string_view flow,
                                               const State& initial,
                                               std::string_view graph = {}) = 0;
  /// The run, its initial State and its last committed step (none before the first).
  /// Errors: bad_input naming the id when there is no such run.
  struct Resumable {
    RunRecord record;
    State initial;
    std::optional<StepCheckpoint> last_step;
  };
  [[nodiscard]] virtual Result<Resumable> load_run(std::string_view run_id) = 0;
  /// Marks the run running again (a resume), clearing its error; what it committed stays.
  [[nodiscard]] virtual Result<void> reopen_run(std::string_view run_id) = 0;
  /// Records `step` as the run's last step, replacing the one before (only the last is kept).
  [[nodiscard]] virtual Result<void> commit_step(std::string_view run_id,
                                                 const StepCheckpoint& step) = 0;
  /// Commits item outcomes in one transaction (a later outcome under the same key wins, also
  /// within `items`). The run's counters count each key once, with its latest outcome.
  /// `cost`: the run's cost so far; a store keeps the largest it was given (0 changes nothing),
  /// as with `StepCheckpoint::cost` and `end_run`'s.
  [[nodiscard]] virtual Result<void> commit_items(std::string_view run_id,
                                                  const std::vector<ItemCheckpoint>& items,
                                                  double cost = 0) = 0;
  /// Every committed item outcome of the run, by key (`ItemOutcome::index` as committed).
  /// Errors: bad_input naming the run and the key when a stored outcome does not decode.
  [[nodiscard]] virtual Result<std::unordered_map<std::string, ItemOutcome>>
  load_items(std::string_view run_id) = 0;
  /// Records an interrupt of the run as it is now (by `interrupt.id`: a new one is added, a
  /// known one gets the new status and answer, unless it was answered or defaulted: an answer,
  /// perhaps given by another process, is never overwritten).
  [[nodiscard]] virtual Result<void> save_interrupt(std::string_view run_id,
                                                    const Interrupt& interrupt) = 0;
  /// Answers a pending interrupt, atomically (two processes answering at once: one wins).
  /// Errors (bad_input): the run has no interrupt `id`; it is not pending (naming its status,
  /// e.g. "already answered").
  [[nodiscard]] virtual Result<void> answer_interrupt(std::string_view run_id, std::string_view id,
                                                      const Value& answer) = 0;
  /// Every interrupt of the run, in the order they were first saved.
  [[nodiscard]] virtual Result<std::vector<Interrupt>> load_interrupts(std::string_view run_id) = 0;
  /// The batch journal (see actorflow/openai_batch.hpp). Records `job` under (server, input
  /// file id) as given: its job id ("" until created) replaces the one recorded, and its
  /// calls (each custom_id moves to this job from any earlier one) are added. Rows of a call
  /// live as long as its run: `delete_runs` removes them. A store without a journal (these
  /// not overridden) fails them with unavailable; a batch provider refuses it as its journal.
  [[nodiscard]] virtual bool keeps_batch_journal() const noexcept { return false; }
  [[nodiscard]] virtual Result<void> save_batch_job(const BatchJobRecord& job);
  /// The job that holds call `custom_id` (its `calls` left empty), or none.
  [[nodiscard]] virtual Result<std::optional<BatchJobRecord>>
  find_batch_call(std::string_view custom_id);
  /// Forgets calls (answered with an error, or sent elsewhere): a call made again under one of
  /// these ids is submitted anew. Unknown ids are no error.
  [[nodiscard]] virtual Result<void> forget_batch_calls(const std::vector<std::string>& custom_ids);

  /// Records how the run ended; `status` must not be `running` (bad_input).
  [[nodiscard]] virtual Result<void> end_run(std::string_view run_id, RunStatus status,
                                             std::string_view error, double cost = 0) = 0;

  /// Every run, newest (by `created`) first.
  [[nodiscard]] virtual Result<std::vector<RunRecord>> list_runs() = 0;

  // -- for viewers (`actorflow ui`); read-only -------------------------------------------------

  /// A page of the run's committed items (see `ItemQuery`), by node, then by index.
  /// Errors: bad_input naming the id when there is no such run, or naming the key when an
  /// outcome does not decode. A store that does not implement it fails with unavailable.
  [[nodiscard]] virtual Result<ItemPage> list_items(std::string_view run_id,
                                                    const ItemQuery& query);
  /// The flow graph recorded when the run began ("" for a run begun before schema version 4).
  /// Errors: bad_input naming the id when there is no such run.
  [[nodiscard]] virtual Result<std::string> load_graph(std::string_view run_id);
  /// Deletes the runs (and their steps, items and interrupts); returns how many there were.
  [[nodiscard]] virtual Result<std::size_t>
  delete_runs(const std::vector<std::string>& run_ids) = 0;
  /// Deletes the runs that ended (not `running`; the time of their `end_run`) before
  /// `before`; returns how many.
  [[nodiscard]] virtual Result<std::size_t>
  delete_ended_before(std::chrono::system_clock::time_point before) = 0;
};
using CheckpointStorePtr = std::shared_ptr<CheckpointStore>;

/// A store at `path`: a PostgreSQL database when `path` is a URL that starts with
/// "postgresql://" or "postgres://", else an SQLite file.
///
/// PostgreSQL (several machines resuming each other's runs, a host that may never come back):
/// the URL is libpq's (https://www.postgresql.org/docs/current/libpq-connect.html), e.g.
/// "postgresql://user:secret@db.example:5432/runs?sslmode=require"; it may name the host, port,
/// user, password, database and any libpq parameter, such as
/// "options=-csearch_path%3Dactorflow" to keep the tables in a schema of their own. The tables
/// are created on first open in the URL's current schema, which must hold nothing else (another
/// program's tables are refused, as in a file). Errors name the URL with its password removed,
/// never the password; a server that cannot be reached is unavailable, as is a call whose
/// connection broke (the next call connects again). Durability is the
/// server's: each call is one transaction, durable once PostgreSQL has committed it (with its
/// default synchronous_commit, a crash of the server loses nothing committed). Concurrency: one
/// connection behind a mutex per store object; any number of stores and processes, on any
/// machines, may share one database, and each call is atomic against all of them.
///
/// SQLite: the file at `path` (created if missing; WAL journal, so readers such as
/// `actorflow runs list` never wait for a running batch). ":memory:" gives a private store that
/// lives as long as the returned object.
///
/// Concurrency: the store holds one connection behind a mutex, so calls from many threads are
/// serialised and each is atomic. Several stores (or processes) may open one file; a writer
/// waits up to 5 s for another, then fails with unavailable.
///
/// Durability: synchronous=NORMAL in WAL mode. A commit survives a crash of the process; a
/// power cut or OS crash may lose the last commits (the run then repeats that work on resume)
/// but never corrupts the file.
///
/// Opening checks the file (SQLite's quick_check, which reads all of it). Errors (bad_input)
/// name the path and what is wrong: not an SQLite database, corrupt, another program's database
/// (no actorflow tables), a schema version from the future. Such a file is left as it is: it is
/// never converted, repaired or replaced.
[[nodiscard]] Result<CheckpointStorePtr> open_checkpoint_store(const std::string& path);

} // namespace actorflow
