#include "actors/cluster/remote_launches.hpp"

#include "actors/cluster/protocol.hpp"
#include "actors/wire.hpp"
#include "core/outcome_codec.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>

namespace actorflow::actors {

RemoteLaunches::RemoteLaunches(caf::event_based_actor* self, Cluster& cluster, std::string type,
                               std::function<void(std::string_view)> log)
    : self_(self), cluster_(&cluster), type_(std::move(type)), log_(std::move(log)) {
  // Before the first place(): a node that falls silent between a placement there and the
  // send would otherwise be missed by this batch, which no down message reaches.
  cluster_->join(self_->address());
}

RemoteLaunches::~RemoteLaunches() { cluster_->leave(self_->address()); }

void RemoteLaunches::send(const Cluster::Place& place, const Value& input, const ItemLaunch& launch,
                          const RunHooks& hooks) {
  auto& [node, connections] = watched_[place.host.address()];
  if (connections.empty() || connections.back() != place.generation) {
    node = place.node;
    connections.push_back(place.generation);
    self_->monitor(place.host); // a connection of the node not seen before
  }
  // An exported run's launch carries its attempt's place in the trace: the node's spans of it
  // go there.
  std::string trace_parent;
  if (hooks.spans && hooks.spans->otlp && launch.span != 0)
    trace_parent = detail::traceparent_of(*hooks.spans->otlp, launch.span);
  self_->send(place.host, rexec_atom::value, cluster_protocol_version, type_, to_wire(input),
              launch.slot, launch.launch, static_cast<std::uint64_t>(launch.index), launch.attempt,
              cluster_->gateway(), hooks.run_id, hooks.options.weight, trace_parent);
}

void RemoteLaunches::cancel(const caf::actor& host, std::uint32_t launch) {
  self_->send(host, rcancel_atom::value, launch);
}

std::optional<Cluster::Place> RemoteLaunches::connection_down(const caf::actor_addr& host) {
  auto watched = watched_.find(host);
  if (watched == watched_.end())
    return std::nullopt;
  Cluster::Place connection{watched->second.first, watched->second.second.front(), {}};
  watched->second.second.pop_front();
  if (watched->second.second.empty())
    watched_.erase(watched);
  return connection;
}

std::optional<Cluster::Place> RemoteLaunches::connection_silent(std::uint32_t node,
                                                                std::uint64_t generation) {
  for (auto it = watched_.begin(); it != watched_.end(); ++it) {
    auto& [watched_node, connections] = it->second;
    if (watched_node != node)
      continue;
    auto found = std::find(connections.begin(), connections.end(), generation);
    if (found == connections.end())
      continue; // another host of the node: it restarted
    connections.erase(found);
    if (connections.empty()) {
      self_->demonitor(it->first); // a reconnect monitors it again: no pile of monitors
      watched_.erase(it);
    }
    return Cluster::Place{node, generation, {}};
  }
  return std::nullopt;
}

void RemoteLaunches::count_lost(const Cluster::Place& connection, std::size_t count,
                                const std::string& path, std::string_view why) {
  cluster_->lost(connection.node, connection.generation, count);
  requeued_ += count;
  log_("[" + path + "] cluster node " + address_of(connection.node).str() + " " + std::string(why) +
       ": " + std::to_string(count) + " items in flight there start again elsewhere");
}

Result<ItemOutcome> RemoteLaunches::accept(const std::vector<char>& outcome,
                                           const std::vector<char>& usage, const RunHooks& hooks,
                                           const std::string& path, std::size_t index,
                                           std::uint32_t node) {
  // The run counts the launch's model calls, and its host hears of each, as of local ones.
  auto [used, calls] = decode_calls(usage);
  hooks.meter->add(used);
  for (auto& call : calls) {
    call.node = path;
    call.item = index;
    hooks.report_model_call(call);
  }
  auto decoded = detail::decode_outcome(wire_view(outcome));
  if (decoded)
    return decoded;
  Error garbled{Errc::bad_response, "node '" + path + "' item " + std::to_string(index) +
                                        ": cluster node " + address_of(node).str() +
                                        " sent an outcome that does not decode (" +
                                        decoded.error().message + ")"};
  log_(garbled.message);
  return garbled;
}

NodeAddress RemoteLaunches::address_of(std::uint32_t node) {
  if (addresses_.size() < node)
    addresses_.resize(node);
  auto& address = addresses_[node - 1];
  if (address.empty())
    address = NodeAddress(cluster_->address(node));
  return address;
}

} // namespace actorflow::actors
