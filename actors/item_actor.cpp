#include "actors/item_actor.hpp"

#include "actors/exec_site.hpp"
#include "actors/messages.hpp"
#include "actors/wire.hpp"
#include "core/outcome_codec.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_actor.hpp>
#include <caf/send.hpp>

#include <typeinfo>
#include <variant>

namespace actorflow::actors {

namespace {

// One attempt at one item: exec on a fresh node instance, its outcome sent to the batch actor
// (its supervisor), which decides about retries. If it dies without an outcome (killed), it
// still reports, from on_exit: the batch learns of every death without a monitor and the
// extra down message per item that a monitor costs.
class ItemActor final : public caf::event_based_actor, public TimeoutTracked, public ExecSite {
public:
  ItemActor(caf::actor_config& cfg, ItemSpecPtr spec, caf::actor batch, const ItemLaunch& launch,
            Value item)
      : caf::event_based_actor(cfg), ExecSite(this, spec->node), item_spec_(std::move(spec)),
        batch_(std::move(batch)), item_(std::move(item)), index_(launch.index), slot_(launch.slot),
        launch_(launch.launch) {
    attempt_ = launch.attempt; // one attempt per item actor
    span_parent_ = launch.span;
    if (item_spec_->policy)
      policy_ = &*item_spec_->policy;
  }

  // A launch from another Runtime; `host` hears (rgone_atom) when the actor ends.
  ItemActor(caf::actor_config& cfg, ItemSpecPtr spec, caf::actor host, RemoteLaunch launch)
      : ItemActor(cfg, std::move(spec), std::move(launch.batch), launch.id,
                  std::move(launch.item)) {
    host_ = std::move(host);
    remote_limits_ = std::move(launch.limits);
    defer_failures_ = true;
  }

  const char* name() const override { return "actorflow.item"; }

  void on_exit() override {
    release_exec();
    item_ = Value{};
    if (host_)
      caf::anon_send(host_, rgone_atom::value, batch_.address(), launch_);
    if (!done_) {
      // Killed before it had an outcome: its batch stopped (it ignores this), or it crashed.
      Error died{Errc::peer_lost, where("actor") + " died (" + to_string(fail_state()) + ")"};
      auto retry = policy_ && policy_->should_retry(died, attempt_);
      report(std::move(died), retry);
    }
    // An item whose timer is still pending lives on until it fires: it must not keep its
    // batch, or its run's hooks, alive that long.
    batch_ = caf::actor{};
    host_ = caf::actor{};
    remote_limits_.reset();
    item_spec_.reset();
    spec_.reset();
  }

  caf::behavior make_behavior() override {
    if (auto failed = make_node())
      finish(std::move(*failed), false);
    else
      start_exec(item_, index_, attempt_);
    if (done_)
      return {}; // finished without awaiting anything: no behavior, the actor terminates
    return {[this](wake_atom, std::uint64_t token) { wake(token); }};
  }

private:
  std::string where(const char* step) const override { return spec_->where(index_, step); }

  void exec_succeeded(Value result) override { finish(std::move(result), false); }
  void exec_failed(const Error& error, bool retry) override { finish(error, retry); }

  void finish(std::variant<Value, Error> result, bool retry) {
    release_exec();
    item_ = Value{}; // freed on this thread, like exec's frame
    report(std::move(result), retry);
    done_ = true;
    quit();
  }

  // Sends the outcome to the batch: as a message (local), or as msgpack from a node, with
  // the usage of the launch's model calls (the batch's run counts them).
  void report(std::variant<Value, Error> result, bool retry) {
    ItemOutcome outcome;
    outcome.index = index_;
    outcome.result = std::move(result);
    outcome.attempts = attempt_;
    outcome.tokens = static_cast<std::int64_t>(tokens_);
    if (host_)
      caf::anon_send(
          batch_, rdone_atom::value, slot_, launch_, wire_bytes(detail::encode_outcome(outcome)),
          encode_calls(remote_limits_->hooks->meter->snapshot(), remote_limits_->calls->take()));
    else
      // As anon_send, but with this worker as the context: a batch actor woken by the message
      // is scheduled on this worker (anon_send has no context and schedules it on the shared
      // queue, so it would move between cores, with everything it touches).
      batch_->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                                item_done_atom::value, slot_, launch_, retry,
                                                std::move(outcome)),
                      context());
  }

  ItemSpecPtr item_spec_;
  caf::actor batch_; // its parent (on another node for a remote launch)
  Value item_;
  std::size_t index_;
  std::uint32_t slot_;   // the batch's in-flight slot, sent back with the outcome
  std::uint32_t launch_; // which launch of its batch this is (slots are reused)
  bool done_ = false;
  caf::actor host_; // a remote launch's node host; invalid for a local item
};

// Spawns an item actor from `parent`, as `parent->spawn<ItemActor>(args...)` does, without
// CAF 0.17's spawn resetting the thread's logger: with the logger set, the launch and later
// every resume of an actor on that thread look its id up in the logger's map under a lock
// all workers share, although Debian's CAF logs nothing (see actors/scheduler/worker_hooks.hpp).
// A batch spawns an actor per item, and this was a tenth of its cost.
template <class... Args>
caf::actor spawn_item(caf::local_actor* parent, Args&&... args) {
  auto& system = parent->system();
  caf::actor_config config{parent->context(), parent};
  if (config.host == nullptr) // as spawn does: outside a worker, CAF's stand-in unit
    config.host = system.dummy_execution_unit();
  auto actor = caf::make_actor<ItemActor, caf::actor>(system.next_actor_id(), system.node(),
                                                      &system, config, std::forward<Args>(args)...);
  static_cast<ItemActor*>(caf::actor_cast<caf::abstract_actor*>(actor))
      ->launch(config.host, false, false);
  return actor;
}

} // namespace

caf::actor spawn_item_actor(caf::local_actor* batch, ItemSpecPtr spec, const ItemLaunch& launch,
                            Value item) {
  return spawn_item(batch, std::move(spec), caf::actor_cast<caf::actor>(batch), launch,
                    std::move(item));
}

std::shared_ptr<const RemoteNodeType> remote_node_type(Scope scope, std::string type,
                                                       NodeFactory factory) {
  auto path = "remote/" + type;
  auto node = std::make_shared<const NodeSpec>(
      NodeSpec{std::move(scope), type, std::move(factory), std::nullopt, std::move(path), type});
  return std::make_shared<const RemoteNodeType>(
      RemoteNodeType{std::make_shared<const ItemSpec>(ItemSpec{std::move(node), std::nullopt})});
}

caf::actor spawn_remote_item(caf::local_actor* host, const RemoteNodeType& type,
                             RemoteLaunch launch) {
  return spawn_item(host, type.spec, caf::actor_cast<caf::actor>(host), std::move(launch));
}

TimeoutTracked* as_timeout_tracked(caf::abstract_actor* actor) noexcept {
  // An exact type check by type_info address: ItemActor has internal linkage, so its type_info
  // is unique; item actors are never further derived.
  if (&typeid(*actor) != &typeid(ItemActor))
    return nullptr;
  return static_cast<ItemActor*>(actor);
}

} // namespace actorflow::actors
