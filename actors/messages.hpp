#pragma once
// The messages between actorflow's actors: their atoms, and the types they carry that are not
// CAF's own. Messages between processes (cluster/protocol.hpp) carry only CAF's built-in types.

#include <actorflow/batch.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>
#include <actorflow/state.hpp>
#include <actorflow/value.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/local_actor.hpp>

#include <optional>

namespace actorflow::actors {

// -- running flows and nodes -------------------------------------------------------------------

// (run_atom, State) -> StepReply: run one node or one whole flow on a State.
using run_atom = caf::atom_constant<caf::atom("af_run")>;
// (deadline_atom): a flow's (or the run's) deadline passed.
using deadline_atom = caf::atom_constant<caf::atom("af_dline")>;
// (wake_atom, token): a node's timer fired, or an outside operation ended; resume the
// coroutine waiting on `token`.
using wake_atom = caf::atom_constant<caf::atom("af_wake")>;
// (ask_atom, Value) -> AskReply: a request to an actor made by Runtime::spawn_actor.
using ask_atom = caf::atom_constant<caf::atom("af_ask")>;

// -- supervision (actors/supervisor.hpp) ---------------------------------------------------------

// (item_done_atom, slot, launch, retry, ItemOutcome): an item actor's outcome, to its batch.
// Items get their input when spawned and answer with a plain send: cheaper than
// request/response, and the batch tracks its children itself (`slot` is the child's place in
// the batch's window; `retry`: the retry policy retries this failure).
using item_done_atom = caf::atom_constant<caf::atom("af_done")>;
// (retry_atom, key, attempt): the backoff after attempt `attempt` of the work `key` ran out.
using retry_atom = caf::atom_constant<caf::atom("af_retry")>;
// (timeout_atom, key, launch): the time limit of launch `launch` of the work `key` ran out.
using timeout_atom = caf::atom_constant<caf::atom("af_tmout")>;

// -- resource controllers (actors/limit_controller.hpp) -----------------------------------------

// (acquire_atom, lease id, run id, weight, tokens) -> (granted, Errc, message, waited ns): a
// grant for one model call. Built-in types only: the asker may be an item on a cluster node.
using acquire_atom = caf::atom_constant<caf::atom("af_acq")>;
// (release_atom, lease id, fields): a granted call ended (sent from any thread, maybe from a
// cluster node); the fields are its CallEnd as msgpack (actors/lease.hpp).
using release_atom = caf::atom_constant<caf::atom("af_rel")>;
// (cancel_atom, lease id): the asker gave up (its attempt was abandoned).
using cancel_atom = caf::atom_constant<caf::atom("af_cancel")>;
// (run_ended_atom, run id): the run has ended; its budget record can go.
using run_ended_atom = caf::atom_constant<caf::atom("af_runend")>;
// (sync_atom) -> (): answered once everything sent to the actor before it is handled.
using sync_atom = caf::atom_constant<caf::atom("af_sync")>;
// (poll_atom): a controller's timer: grant what has become grantable.
using poll_atom = caf::atom_constant<caf::atom("af_poll")>;
// (node_silent_atom, node id): a cluster node fell silent; what its askers wait for and hold
// is returned, as when they die (a silent node sends no down message).
using node_silent_atom = caf::atom_constant<caf::atom("af_nsilent")>;

/// True when the message `self` handles now was sent by an actor of this process: for messages
/// that only the runtime itself may send, to actors whose handles cluster nodes hold. (A node
/// can send anonymously too: those are refused.)
inline bool from_this_process(caf::local_actor* self) {
  const auto& sender = self->current_sender();
  return sender && sender->node() == self->node();
}

// -- replies -------------------------------------------------------------------------------------

/// What a node or flow actor answers: a RunResult or an Error. (CAF messages need default
/// constructible types, which Result<T> deliberately is not.)
struct StepReply {
  std::optional<RunResult> result;
  Error error;

  [[nodiscard]] static StepReply of(Result<RunResult> r);
  [[nodiscard]] Result<RunResult> take() &&;
};

/// What an ask-able actor answers.
struct AskReply {
  std::optional<Value> value;
  Error error;
};

} // namespace actorflow::actors

// Local-only message types: they never leave the process in this form (remote messages carry
// msgpack bytes), so CAF need not serialise them.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::State)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::Value)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::actors::StepReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::actors::AskReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actorflow::ItemOutcome)
