#include "actors/cluster/node_host.hpp"

#include "actors/cluster/network.hpp"
#include "actors/cluster/protocol.hpp"
#include "actors/item_actor.hpp"
#include "actors/node_spec.hpp"
#include "actors/wire.hpp"
#include "core/outcome_codec.hpp"
#include "observe/otlp_exporter.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <set>
#include <unordered_map>

namespace actorflow::actors {

namespace {

struct HostState {
  EnvironmentPtr env;
  std::shared_ptr<const RunHooks> hooks; // for the items' leases: nobody listens here
  std::uint64_t capacity = 0;
  std::map<std::string, std::shared_ptr<const RemoteNodeType>, std::less<>> types;
  // Running items by (batch, launch); batches monitored, with their item counts.
  std::map<std::pair<caf::actor_addr, std::uint32_t>, caf::actor> items;
  std::unordered_map<caf::actor_addr, std::size_t> batches;
  std::set<std::string> logged; // reasons for refusing items, logged once each
  static inline const char* name = "actorflow.node_host";
};

using HostActor = caf::stateful_actor<HostState>;

// Answers a launch that cannot run with an error outcome (and logs why).
void reject(HostActor* self, const caf::actor& batch, std::uint32_t slot, std::uint32_t launch,
            std::uint64_t index, std::uint32_t attempt, Error error) {
  // Logged once per reason: a batch of a type this node lacks would log every item. Capped:
  // a peer sending ever new type names must not grow it without end.
  if (self->state.logged.size() < 256 && self->state.logged.insert(error.message).second)
    self->state.env->log("node: item " + std::to_string(index) + " refused: " + error.message +
                         " (later items refused for this reason are not logged)");
  ItemOutcome outcome;
  outcome.index = static_cast<std::size_t>(index);
  outcome.attempts = attempt;
  outcome.result = std::move(error);
  self->send(batch, rdone_atom::value, slot, launch, wire_bytes(detail::encode_outcome(outcome)),
             std::vector<char>{}); // no model call was made
}

// The span sink of a launch whose run is exported (`trace_parent`: its attempt's place in the
// trace), when this Runtime exports too: the launch's spans join the run's trace there. Null
// otherwise, and for a traceparent that does not parse (a peer's bug must not stop the item).
std::shared_ptr<SpanSink> exported_spans(const Environment& env, const std::string& trace_parent,
                                         std::uint64_t run) {
  if (trace_parent.empty() || !env.exporter)
    return nullptr;
  auto parent = detail::parse_traceparent(trace_parent);
  if (!parent)
    return nullptr;
  auto sink = std::make_shared<SpanSink>();
  // Real time: a node host's launches are never on a test's virtual clock.
  sink->now = [] { return std::chrono::steady_clock::now(); };
  sink->origin = sink->now();
  sink->otlp = detail::new_trace("remote run " + std::to_string(run), *parent);
  sink->to_writers = env.exporter->hook(sink->otlp);
  return sink;
}

caf::behavior node_host(HostActor* self, EnvironmentPtr environment, std::uint64_t capacity) {
  self->state.env = std::move(environment);
  self->state.capacity = capacity;
  self->state.hooks = std::make_shared<const RunHooks>(
      RunOptions{}, 0, std::make_shared<detail::RunMeter>(), nullptr, nullptr);
  // A peer's message of a kind this host does not know: logged (cut short) and dropped, never
  // fatal. No answer: an error sent back would end a sender that has no error handler.
  self->set_default_handler(
      [](caf::scheduled_actor* actor, caf::message_view& message) -> caf::result<caf::message> {
        auto& host = static_cast<HostActor*>(actor)->state;
        auto text = to_string(message.copy_content_to_message());
        if (text.size() > 200)
          text = text.substr(0, 200) + "...";
        host.env->log("node: dropped a message it does not understand: " + text);
        return caf::delegated<caf::message>{};
      });
  self->set_error_handler([self](caf::error& err) {
    self->state.env->log("node: ignored an error message: " + self->system().render(err));
  });
  // Only this process may stop the host (Runtime::shutdown); its items stop with it, or they
  // would run on (and be run again elsewhere by their batches).
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.source && msg.source.node() != self->node()) {
      self->state.env->log("node: ignored an exit message from another process");
      return;
    }
    for (auto& [key, item] : self->state.items)
      self->send_exit(item, caf::exit_reason::user_shutdown);
    self->state.items.clear();
    self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& down) {
    // A batch (or its whole Runtime) went away: its items stop.
    auto& items = self->state.items;
    auto it = items.lower_bound({down.source, 0});
    while (it != items.end() && it->first.first == down.source) {
      self->send_exit(it->second, caf::exit_reason::user_shutdown);
      it = items.erase(it);
    }
    self->state.batches.erase(down.source);
  });
  return {
      [self](hello_atom, std::uint32_t version) {
        if (version != cluster_protocol_version)
          self->state.env->log("node: a runtime speaking cluster protocol " +
                               std::to_string(version) + " connected; this node speaks " +
                               std::to_string(cluster_protocol_version));
        return caf::make_message(cluster_protocol_version, self->state.capacity);
      },
      [self](ping_atom, std::uint64_t token) {
        // Sent, not returned: the owner's watcher sends pings without a request.
        if (auto owner = caf::actor_cast<caf::actor>(self->current_sender()))
          self->send(owner, pong_atom::value, token);
      },
      // A launch in the form of protocols 1 to 4 (no traceparent yet): refused, naming both
      // versions, rather than dropped as a message nobody understands.
      [self](rexec_atom, std::uint32_t version, const std::string&, const std::vector<char>&,
             std::uint32_t slot, std::uint32_t launch, std::uint64_t index, std::uint32_t attempt,
             const caf::actor&, std::uint64_t, double) {
        if (auto batch = caf::actor_cast<caf::actor>(self->current_sender()))
          reject(self, batch, slot, launch, index, attempt,
                 Error{Errc::bad_input, "cluster protocol " + std::to_string(version) +
                                            " is not this node's (" +
                                            std::to_string(cluster_protocol_version) + ")"});
      },
      [self](rexec_atom, std::uint32_t version, const std::string& type,
             const std::vector<char>& payload, std::uint32_t slot, std::uint32_t launch,
             std::uint64_t index, std::uint32_t attempt, const caf::actor& gateway,
             std::uint64_t run, double weight, const std::string& trace_parent) {
        auto& st = self->state;
        auto batch = caf::actor_cast<caf::actor>(self->current_sender());
        if (!batch) {
          st.env->log("node: dropped an item sent anonymously (nowhere to answer)");
          return;
        }
        auto fail = [&](Errc code, std::string why) {
          reject(self, batch, slot, launch, index, attempt, Error{code, std::move(why)});
        };
        if (version != cluster_protocol_version)
          return fail(Errc::bad_input, "cluster protocol " + std::to_string(version) +
                                           " is not this node's (" +
                                           std::to_string(cluster_protocol_version) + ")");
        auto known = st.types.find(type);
        if (known == st.types.end()) {
          if (!st.env->nodes.contains(type))
            return fail(Errc::invalid_flow,
                        st.env->nodes.make(type).error().message + " (on this cluster node)");
          known = st.types
                      .emplace(type, remote_node_type(Scope{st.env, st.hooks, "", 0}, type,
                                                      registered_factory(st.env, type)))
                      .first;
        }
        auto item = from_msgpack(wire_view(payload));
        if (!item)
          return fail(Errc::bad_input,
                      "the item's payload does not decode: " + item.error().message);
        if (!gateway)
          return fail(Errc::bad_input, "the launch names no limit gateway");
        // Each launch counts and keeps its own model calls: they go back with its outcome.
        auto calls = std::make_shared<CallLog>();
        RunOptions counting;
        counting.on_model_call = [calls](const ModelCallEvent& call) { calls->add(call); };
        auto spans = exported_spans(*st.env, trace_parent, run);
        auto usage = std::make_shared<const RunHooks>(
            std::move(counting), run, std::make_shared<detail::RunMeter>(), spans, nullptr);
        // Traced, the launch's node and model-call spans go to this launch's sink: a spec of
        // its own, whose scope has the launch's hooks (the type's shared one has no sink).
        auto type_of_launch = spans ? remote_node_type(Scope{st.env, usage, "", 0}, type,
                                                       registered_factory(st.env, type))
                                    : known->second;
        RemoteLaunch remote{batch,
                            ItemLaunch{slot, launch, static_cast<std::size_t>(index), attempt, 0},
                            RemoteLimits{gateway, run, weight, std::move(usage), std::move(calls)},
                            std::move(*item)};
        auto actor = spawn_remote_item(self, *type_of_launch, std::move(remote));
        st.items[{batch.address(), launch}] = actor;
        if (st.batches[batch.address()]++ == 0)
          self->monitor(batch);
      },
      [self](rcancel_atom, std::uint32_t launch) {
        auto& items = self->state.items;
        if (auto it =
                items.find({caf::actor_cast<caf::actor_addr>(self->current_sender()), launch});
            it != items.end())
          self->send_exit(it->second, caf::exit_reason::user_shutdown);
      },
      [self](rgone_atom, const caf::actor_addr& batch, std::uint32_t launch) {
        auto& st = self->state;
        if (st.items.erase({batch, launch}) == 0)
          return;
        auto it = st.batches.find(batch);
        if (it != st.batches.end() && --it->second == 0) {
          st.batches.erase(it);
          self->demonitor(batch);
        }
      },
  };
}

} // namespace

Result<std::pair<caf::actor, std::uint16_t>>
serve_node(caf::actor_system& system, EnvironmentPtr env, const ClusterConfig& config,
           const ServeOptions& options, std::size_t workers) {
  if (auto allowed = check_off_loopback(config, options.bind, "serve: binding " + options.bind);
      !allowed)
    return allowed.error();
  auto capacity = options.capacity != 0 ? options.capacity : default_capacity(workers);
  auto host = system.spawn(node_host, std::move(env), static_cast<std::uint64_t>(capacity));
  std::optional<Error> failed;
  std::uint16_t port = 0;
  {
    caf::scoped_actor self{system};
    self->request(network_of(system), std::chrono::seconds(10), caf::publish_atom::value,
                  options.port, caf::actor_cast<caf::strong_actor_ptr>(host),
                  std::set<std::string>{}, options.bind, true)
        .receive([&](std::uint16_t bound) { port = bound; },
                 [&](caf::error& err) {
                   failed = Error{Errc::unavailable, "serve: cannot listen on " + options.bind +
                                                         ":" + std::to_string(options.port) + ": " +
                                                         system.render(err)};
                 });
  }
  if (failed) {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    return *failed;
  }
  return std::pair{std::move(host), port};
}
} // namespace actorflow::actors
