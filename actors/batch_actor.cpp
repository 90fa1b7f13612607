#include "actors/batch_actor.hpp"

#include <actorflow/checkpoint.hpp>

#include "actors/cluster/protocol.hpp"
#include "actors/cluster/remote_launches.hpp"
#include "actors/cluster/remote_outcome.hpp"
#include "actors/item_actor.hpp"
#include "actors/messages.hpp"
#include "actors/supervisor.hpp"
#include "core/batch_tally.hpp"
#include "core/guard.hpp"
#include "store/run_checkpoint.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <variant>
#include <vector>

namespace actorflow::actors {

namespace {

using TimePoint = caf::actor_clock::time_point;

// One place in the window: an item from its first attempt until its final outcome.
struct Slot {
  // The running attempt's item actor, or for a launch on a cluster node that node's host;
  // invalid while the item waits for a retry, or when the slot is free.
  caf::actor actor;
  Supervised work;            // its attempts; `work.item` is the item's index
  std::optional<Value> input; // kept while a retry or a requeue may need it
  TimePoint first_start{};
  std::int64_t tokens = 0; // used by the item's attempts so far
  std::string key;         // durable runs: the item's checkpoint key ("" otherwise)
  Cluster::Place place;    // where the latest launch went (node 0: here)
  OpenSpan item_span;      // when the run is traced

  [[nodiscard]] std::size_t index() const { return *work.item; }
  [[nodiscard]] bool occupied() const noexcept { return work.attempt != 0; }
};

class BatchActor final : public caf::event_based_actor {
public:
  BatchActor(caf::actor_config& cfg, NodeSpecPtr spec, std::unique_ptr<ParallelBatchNode> node,
             std::optional<RetryPolicy> policy, Value prep_result, std::uint64_t node_span)
      : caf::event_based_actor(cfg), spec_(std::move(spec)), node_(std::move(node)),
        options_(node_->batch_options()), prep_result_(std::move(prep_result)),
        node_span_(node_span), supervisor_(std::in_place, this, spec_, policy),
        tally_(options_.policy), spans_(spec_->scope.spans()),
        item_spec_(std::make_shared<const ItemSpec>(ItemSpec{spec_, std::move(policy)})) {}

  const char* name() const override { return "actorflow.batch"; }

  caf::behavior make_behavior() override {
    // Only a batch in a cluster monitors anything: the hosts of the nodes it sends items to.
    // A host that goes down takes this batch's launches on it with it: they start again.
    set_down_handler([this](caf::down_msg& down) {
      if (remote_)
        requeue_launches(remote_->connection_down(down.source), false);
    });
    return {
        [this](run_atom, State& state) -> caf::response_promise {
          promise_ = make_response_promise();
          state_ = std::move(state);
          start();
          return promise_;
        },
        [this](item_done_atom, std::uint32_t id, std::uint32_t launch, bool retry,
               ItemOutcome& outcome) {
          if (running_launch(id, launch, false))
            attempt_ended(id, std::move(outcome.result), outcome.tokens, retry);
        },
        [this](rdone_atom, std::uint32_t id, std::uint32_t launch, const std::vector<char>& outcome,
               const std::vector<char>& usage) { on_remote_done(id, launch, outcome, usage); },
        // A node fell silent (the cluster's heartbeat): the same, and the node is asked to
        // stop them, should it wake up. Only from this process: nodes know this batch.
        [this](silent_atom, std::uint32_t node, std::uint64_t generation) {
          if (remote_ && from_this_process(this))
            requeue_launches(remote_->connection_silent(node, generation), true);
        },
        [this](retry_atom, std::uint32_t id, std::uint32_t attempt) {
          if (!stopping_ && !run_ended() && id < slots_.size() &&
              supervisor_->retry_due(slots_[id].work, attempt))
            start_attempt(id, *slots_[id].input);
        },
        [this](timeout_atom, std::uint32_t id, std::uint32_t launch) { on_timeout(id, launch); },
    };
  }

  // A batch that stops before it has finished (its run was cancelled, a deadline) stops its
  // items, and ends their spans so that the spans of its children have a parent. Either way,
  // what it holds goes now: a class-based actor's members live as long as the actor object,
  // and a promise not delivered refers to the actor itself.
  void on_exit() override {
    if (!stopping_)
      stop_running();
    slots_.clear();
    promise_ = caf::response_promise{};
    // Freed now, on this thread, not when the actor object goes (a pending timer keeps it):
    // the node instance, the item source (a generator's captures), the state, the outcomes.
    node_.reset();
    source_ = ItemSource{};
    state_ = State{};
    prep_result_ = Value{};
    results_ = {};
    remote_.reset();
    // What refers to the run (its hooks: the host's callbacks, a durable run's writer): a
    // pending timer (an attempt's time limit, a backoff) keeps this actor object until it fires.
    supervisor_.reset();
    item_spec_.reset();
    spec_.reset();
    spans_ = nullptr;
    checkpoint_ = nullptr;
  }

private:
  [[nodiscard]] TimePoint now() { return clock().now(); }
  // The run is over (cancelled, its deadline passed): this batch's stop is on its way down the
  // links; until it arrives, no item starts.
  [[nodiscard]] bool run_ended() const { return spec_->scope.hooks->ended(); }
  [[nodiscard]] std::string where(const char* step) const { return spec_->where(step); }

  // -- the window -------------------------------------------------------------------------------

  void start() {
    const auto window = options_.max_concurrency;
    if (window == 0 || window > std::numeric_limits<std::uint32_t>::max())
      return reply(Error{Errc::bad_input, where("batch") + ": max_concurrency is " +
                                              std::to_string(window) +
                                              " (expected 1 to 4294967295)"});
    const auto& env = *spec_->scope.env;
    if (!spec_->registered_type.empty() && env.cluster)
      remote_.emplace(this, *env.cluster, spec_->registered_type, env.log);
    auto source = detail::guarded([&] { return where("items"); },
                                  [&] { return node_->items(state_, prep_result_); });
    if (!source)
      return reply(source.error());
    source_ = std::move(*source);
    if (!source_.next)
      return reply(Error{Errc::bad_input, where("items") + ": the item source is empty"});
    if (source_.size)
      tally_.set_total(*source_.size);
    // Progress about 100 times per batch, or every window's worth when the size is unknown.
    progress_stride_ = std::max<std::size_t>(1, source_.size ? *source_.size / 100 : window);
    t0_ = now();
    if (const auto& checkpoint = spec_->scope.hooks->checkpoint) {
      checkpoint_ = checkpoint.get();
      auto version = detail::guarded([&] { return where("version"); },
                                     [&] { return node_->checkpoint_version(); });
      if (!version)
        return reply(version.error());
      version_ = std::move(*version);
    }
    // The window's slots, reserved up front (capped: a huge window over a short source should
    // not reserve memory it never uses; slots beyond are added as needed).
    auto reserve = std::min<std::size_t>(window, source_.size.value_or(window));
    slots_.reserve(std::min<std::size_t>(reserve, 1 << 16));
    pump();
  }

  // Fills the window: pulls items and starts them while there is room.
  void pump() {
    pumping_ = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{pumping_};
    while (!stopping_ && !exhausted_ && in_flight_ < options_.max_concurrency && !run_ended()) {
      auto item = detail::guarded([&] { return where("items"); }, [&] { return source_.next(); });
      if (!item)
        return fail_batch(item.error());
      if (!*item) {
        exhausted_ = true;
        tally_.set_total(started_);
        break;
      }
      const auto index = started_++;
      std::uint32_t id;
      if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
      } else {
        id = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
      }
      auto& slot = slots_[id];
      slot.work = Supervised{};
      slot.work.item = index;
      ++in_flight_;
      if (!options_.as_completed)
        results_.emplace_back().index = index; // filled when the outcome arrives
      if (checkpoint_) {
        slot.key = checkpoint_item_key(spec_->path, version_, **item);
        if (auto found = checkpoint_->committed.find(slot.key);
            found != checkpoint_->committed.end()) {
          restore(id, found->second);
          if (stopping_)
            return;
          continue;
        }
      }
      if (supervisor_->rules().may_retry()) {
        slot.input = std::move(**item);
        start_attempt(id, *slot.input);
      } else {
        start_attempt(id, std::move(**item));
      }
      if (stopping_)
        return; // the attempt ended the batch (an open circuit under fail_fast)
    }
    if (exhausted_ && in_flight_ == 0 && !stopping_)
      finish_batch(tally_.at_end());
  }

  // Starts the next attempt of the item in slot `id` (unless the circuit is open), or with
  // `again` its latest attempt once more, its node having died.
  void start_attempt(std::uint32_t id, Value input, bool again = false) {
    auto& slot = slots_[id];
    if (slot.work.attempt == 0) {
      slot.first_start = now();
      if (spans_) {
        slot.item_span = OpenSpan{spans_->new_id(), slot.first_start};
        slot.work.parent_span = slot.item_span.id;
      }
    }
    if (auto rejected = supervisor_->begin_attempt(slot.work, id, again))
      return settle(id, std::move(*rejected));
    const ItemLaunch launch{id, slot.work.launch, slot.index(), slot.work.attempt,
                            slot.work.attempt_span.id};
    auto& place = slot.place;
    place = remote_ ? remote_->place() : Cluster::Place{};
    if (place.node != 0) {
      remote_->send(place, input, launch, *spec_->scope.hooks);
      slot.actor = place.host;
      if (!slot.input) // a launch lost with its node starts again elsewhere
        slot.input = std::move(input);
    } else {
      slot.actor = spawn_item_actor(this, item_spec_, launch, std::move(input));
    }
  }

  // The slot of launch `launch` in slot `id` while it runs (here, or on a node: `remote`);
  // null for an outcome of a launch given up on (timed out, requeued, cancelled) or a stray.
  Slot* running_launch(std::uint32_t id, std::uint32_t launch, bool remote) {
    if (stopping_ || id >= slots_.size())
      return nullptr;
    auto& slot = slots_[id];
    if (!slot.actor || slot.work.launch != launch || (slot.place.node != 0) != remote)
      return nullptr;
    return &slot;
  }

  // The running launch in `slot` has ended (outcome, timeout, cancel): its place has room.
  // `slot.place` stays: it says where the item's latest launch ran.
  void end_launch(Slot& slot, bool with_outcome) {
    slot.actor = caf::actor{};
    slot.place.host = caf::actor{};
    if (remote_)
      remote_->release(slot.place, with_outcome);
  }

  // Stops the running launch in `slot`: kills its item actor, or asks its node to.
  void stop_launch(Slot& slot, caf::exit_reason reason) {
    if (slot.place.node != 0)
      remote_->cancel(slot.actor, slot.work.launch);
    else
      send_exit(slot.actor, reason);
    end_launch(slot, false);
  }

  // -- outcomes -------------------------------------------------------------------------------

  // The running attempt of the item in slot `id` ended with `result`. `retry`: the policy
  // retries this failure.
  void attempt_ended(std::uint32_t id, std::variant<Value, Error> result, std::int64_t tokens,
                     bool retry) {
    auto& slot = slots_[id];
    end_launch(slot, true);
    slot.tokens += tokens;
    if (const Error* error = std::get_if<Error>(&result)) {
      if (auto final = supervisor_->failed(slot.work, id, *error, retry))
        settle(id, std::move(*final));
      return;
    }
    supervisor_->succeeded(slot.work);
    settle(id, std::move(result));
  }

  // A node's outcome of launch `launch` in slot `id`, and the usage of its model calls.
  void on_remote_done(std::uint32_t id, std::uint32_t launch, const std::vector<char>& bytes,
                      const std::vector<char>& usage) {
    auto* slot = running_launch(id, launch, true);
    if (!slot)
      return;
    auto verdict = judge_remote_outcome(
        remote_->accept(bytes, usage, *spec_->scope.hooks, spec_->path, slot->index(),
                        slot->place.node),
        supervisor_->rules(), slot->work.attempt, *spec_, slot->index(), *slot->input);
    if (verdict.fell_back_from)
      supervisor_->report(AttemptEvent::Kind::fallback_used, slot->work, *verdict.fell_back_from);
    attempt_ended(id, std::move(verdict.result), verdict.tokens, verdict.retry);
  }

  // The launches on `connection` (none: not one this batch watches) are lost: each starts
  // again elsewhere, as no attempt.
  void requeue_launches(const std::optional<Cluster::Place>& lost_connection, bool silent) {
    if (stopping_ || !lost_connection)
      return;
    const auto& connection = *lost_connection;
    std::vector<std::uint32_t> lost;
    for (std::uint32_t id = 0; id < slots_.size(); ++id) {
      const auto& slot = slots_[id];
      if (slot.actor && slot.place.node == connection.node &&
          slot.place.generation == connection.generation)
        lost.push_back(id);
    }
    if (lost.empty())
      return;
    remote_->count_lost(connection, lost.size(), spec_->path,
                        silent ? "stopped answering" : "is gone");
    const Error why{Errc::peer_lost,
                    silent ? "its cluster node stopped answering" : "its cluster node went down"};
    for (auto id : lost) {
      auto& slot = slots_[id];
      if (silent) // queued behind its work: a node that wakes up stops it, late answers drop
        remote_->cancel(slot.actor, slot.work.launch);
      slot.actor = caf::actor{};
      supervisor_->lost_launch(slot.work, why);
      start_attempt(id, *slot.input, true);
      if (stopping_)
        return;
    }
  }

  void on_timeout(std::uint32_t id, std::uint32_t launch) {
    if (stopping_ || id >= slots_.size())
      return;
    auto& slot = slots_[id];
    auto error = supervisor_->timed_out(slot.work, launch);
    if (!error)
      return;
    stop_launch(slot, caf::exit_reason::kill); // its late outcome will be stale
    const bool retry = supervisor_->rules().retryable(*error, slot.work.attempt);
    if (auto final = supervisor_->failed(slot.work, id, *error, retry))
      settle(id, std::move(*final));
  }

  // The item in slot `id` has its final outcome: record it, free the slot, go on.
  void settle(std::uint32_t id, std::variant<Value, Error> result) {
    auto& slot = slots_[id];
    ItemOutcome outcome;
    outcome.index = slot.index();
    outcome.result = std::move(result);
    outcome.attempts = slot.work.attempt;
    outcome.tokens = std::exchange(slot.tokens, 0);
    if (slot.place.node != 0)
      outcome.ran_on = remote_->address_of(slot.place.node);
    outcome.latency =
        std::chrono::duration_cast<std::chrono::microseconds>(now() - slot.first_start);
    end_item_span(slot, std::get_if<Error>(&outcome.result));
    // An item turned away by an open circuit never ran: a resume (after the outage) runs it.
    const bool ran = outcome.ok() || outcome.error().code != Errc::circuit_open;
    if (checkpoint_ && !slot.key.empty() && ran)
      checkpoint_->items->add(ItemCheckpoint{std::move(slot.key), outcome, spec_->path});
    slot.key.clear();
    settle_outcome(id, std::move(outcome));
  }

  // An item whose outcome a resumed run finds committed: it settles without running.
  void restore(std::uint32_t id, const ItemOutcome& committed) {
    auto& slot = slots_[id];
    slot.key.clear(); // committed already
    ItemOutcome outcome = committed;
    outcome.index = slot.index();
    settle_outcome(id, std::move(outcome));
  }

  // Records the final outcome of the item in slot `id`, frees the slot, goes on.
  void settle_outcome(std::uint32_t id, ItemOutcome outcome) {
    auto& slot = slots_[id];
    slot.actor = caf::actor{};
    slot.work.attempt = 0;
    slot.place = Cluster::Place{};
    slot.input.reset();
    free_.push_back(id);
    --in_flight_;
    auto verdict = tally_.record(outcome.ok());
    if (const auto& hooks = *spec_->scope.hooks; hooks.streams(StreamMode::items))
      hooks.events->emit(spec_->path, outcome.index,
                         ItemFinished{outcome.result, outcome.attempts});
    if (!outcome.ok() && options_.policy.kind() == FailurePolicy::Kind::fail_fast)
      first_error_ = outcome.error();
    if (options_.as_completed) {
      auto keep_going = detail::guarded([&] { return where("on_item"); },
                                        [&] { return node_->on_item(outcome); });
      if (!keep_going)
        return fail_batch(keep_going.error());
      if (!*keep_going && verdict == detail::BatchTally::Verdict::running)
        verdict = detail::BatchTally::Verdict::succeeded; // the reducer has what it needs
    } else {
      results_[outcome.index] = std::move(outcome);
    }
    if (settled() % progress_stride_ == 0)
      report_progress(false);
    switch (verdict) {
      case detail::BatchTally::Verdict::failed:
        return fail_batch(first_error_ ? *first_error_
                                       : Error{Errc::batch_failed, tally_.failure_reason()});
      case detail::BatchTally::Verdict::succeeded:
        if (!exhausted_ || in_flight_ != 0)
          return stop_early();
        break;
      case detail::BatchTally::Verdict::running:
        break;
    }
    if (!pumping_) // settle() is also reached from pump() (a circuit-rejected launch)
      pump();
  }

  // -- the end ------------------------------------------------------------------------------------

  // The batch was stopped from outside (killed with its node actor).
  void stop_running() {
    Error stopped{Errc::cancelled, spec_->where("run") + ": stopped before it finished"};
    for (auto& slot : slots_) {
      if (!slot.occupied())
        continue;
      if (spans_)
        end_spans(slot, stopped);
      if (!slot.actor)
        continue;
      if (slot.place.node != 0) {
        remote_->release(slot.place, false); // its node stops it: its host watches this batch
      } else {
        caf::anon_send_exit(slot.actor, caf::exit_reason::user_shutdown);
        if (remote_)
          remote_->release(slot.place, false);
      }
    }
  }

  // Cancels the items still in flight (and those waiting for a retry); their outcomes become
  // `cancelled`.
  void cancel_in_flight() {
    stopping_ = true;
    for (auto& slot : slots_) {
      if (!slot.occupied())
        continue;
      if (slot.actor) // before the spans: a node is told which launch to stop
        stop_launch(slot, caf::exit_reason::user_shutdown);
      if (spans_)
        end_spans(slot,
                  Error{Errc::cancelled, where("batch") + ": item " + std::to_string(slot.index()) +
                                             " cancelled: the batch stopped"});
      slot.work.attempt = 0;
      ++cancelled_;
      if (!options_.as_completed)
        results_[slot.index()].result =
            Error{Errc::cancelled, where("batch") + ": item " + std::to_string(slot.index()) +
                                       " cancelled: the batch stopped early"};
    }
    in_flight_ = 0;
  }

  /// Items settled so far, failed ones included.
  [[nodiscard]] std::size_t settled() const { return tally_.succeeded() + tally_.failed(); }

  void stop_early() {
    stopped_early_ = true;
    cancel_in_flight();
    finish_batch(detail::BatchTally::Verdict::succeeded);
  }

  void fail_batch(Error error) {
    cancel_in_flight();
    report_progress(true);
    error.message = where("batch") + ": " + error.message;
    reply(std::move(error));
  }

  void finish_batch(detail::BatchTally::Verdict verdict) {
    stopping_ = true;
    report_progress(true);
    // Every outcome is committed before the reducer runs: a failed write fails the batch.
    if (checkpoint_)
      if (auto flushed = checkpoint_->items->flush(); !flushed)
        return reply(Error{flushed.error().code,
                           where("batch") + ": checkpoint: " + flushed.error().message});
    if (verdict == detail::BatchTally::Verdict::failed)
      return reply(Error{Errc::batch_failed, where("batch") + ": " + tally_.failure_reason()});
    BatchResult result;
    result.items = std::move(results_);
    result.summary.started = started_;
    result.summary.succeeded = tally_.succeeded();
    result.summary.failed = tally_.failed() + cancelled_;
    result.summary.cancelled = cancelled_;
    result.summary.stopped_early = stopped_early_;
    result.summary.wall = std::chrono::duration_cast<std::chrono::microseconds>(now() - t0_);
    result.summary.retries = supervisor_->retries_scheduled();
    result.summary.circuit_opened = supervisor_->times_opened();
    result.summary.requeued = remote_ ? remote_->requeued() : 0;
    auto action =
        detail::guarded([&] { return where("post_batch"); },
                        [&] { return node_->post_batch(state_, prep_result_, std::move(result)); });
    if (!action)
      return reply(action.error());
    RunResult ended{std::move(state_), std::move(*action), {spec_->name}, {}};
    ended.retries = supervisor_->retries_scheduled();
    reply(std::move(ended));
  }

  void reply(Result<RunResult> result) {
    stopping_ = true;
    promise_.deliver(StepReply::of(std::move(result)));
    quit();
  }

  // -- what the host sees -----------------------------------------------------------------------

  void report_progress(bool finished) {
    const auto& on_progress = spec_->scope.hooks->options.on_progress;
    if (!on_progress)
      return;
    BatchProgress p;
    p.node = spec_->path;
    p.done = settled();
    p.failed = tally_.failed();
    p.in_flight = in_flight_;
    p.total = tally_.total();
    p.finished = finished;
    on_progress(p);
  }

  // Ends the spans still open for the item in `slot`, which was stopped.
  void end_spans(Slot& slot, const Error& stopped) {
    supervisor_->stopped(slot.work, stopped);
    end_item_span(slot, &stopped);
  }

  // Ends the item's own span: from its first attempt to its final outcome.
  void end_item_span(Slot& slot, const Error* error) const {
    detail::close_span(spans_, slot.item_span, SpanEvent::Kind::item, spec_->path, slot.index(),
                       slot.work.attempt, node_span_, error);
  }

  // -- state ------------------------------------------------------------------------------------

  NodeSpecPtr spec_;
  std::unique_ptr<ParallelBatchNode> node_; // the batch's own instance
  BatchOptions options_;
  Value prep_result_;
  std::uint64_t node_span_;              // the span the items lie in (0: untraced)
  std::optional<Supervisor> supervisor_; // none once the actor has exited
  detail::BatchTally tally_;
  SpanSink* spans_; // the run's, when it is traced
  ItemSpecPtr item_spec_;
  caf::response_promise promise_;
  State state_;
  ItemSource source_;
  std::optional<RemoteLaunches> remote_;        // a registered node type, in a cluster
  detail::RunCheckpoint* checkpoint_ = nullptr; // the run's, when it is durable
  std::string version_;                         // the node's, for item keys

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;  // free slots
  std::size_t in_flight_ = 0;        // occupied slots
  std::vector<ItemOutcome> results_; // ordered gather; stays empty when as_completed
  std::optional<Error> first_error_; // the item error that fails a fail_fast batch
  std::size_t started_ = 0;
  std::size_t cancelled_ = 0;
  std::size_t progress_stride_ = 1;
  TimePoint t0_;
  bool exhausted_ = false;
  bool stopping_ = false;      // no more items start; late outcomes are ignored
  bool stopped_early_ = false; // the reducer had enough before the items ran out
  bool pumping_ = false;
};

} // namespace

caf::actor spawn_batch_actor(caf::local_actor* node_actor, NodeSpecPtr spec,
                             std::unique_ptr<ParallelBatchNode> node,
                             std::optional<RetryPolicy> policy, Value prep_result,
                             std::uint64_t node_span) {
  return node_actor->spawn<BatchActor, caf::linked>(
      std::move(spec), std::move(node), std::move(policy), std::move(prep_result), node_span);
}

} // namespace actorflow::actors
