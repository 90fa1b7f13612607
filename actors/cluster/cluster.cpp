#include "actors/cluster/cluster.hpp"

#include "actors/cluster/network.hpp"
#include "actors/cluster/protocol.hpp"
#include "actors/messages.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/node_id.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace actorflow::actors {

namespace {

using watch_atom = caf::atom_constant<caf::atom("af_watch")>;
using tick_atom = caf::atom_constant<caf::atom("af_tick")>;
using Clock = std::chrono::steady_clock;

} // namespace

struct Cluster::Impl {
  struct Node {
    std::string address;
    std::string host;
    std::uint16_t port = 0;
    caf::actor actor; // its host actor, while connected
    bool up = false;
    bool dialling = false;
    std::size_t capacity = 0;
    std::size_t in_flight = 0;
    std::uint64_t generation = 0; // bumped by every connection
    std::uint64_t done = 0, requeued = 0, connects = 0;
    std::string last_error;
    Clock::time_point next_dial{};
  };

  Impl(caf::actor_system& sys, ClusterConfig cfg, std::size_t workers,
       std::function<void(std::string_view)> log_line)
      : system(sys), config(std::move(cfg)), log(std::move(log_line)),
        local_capacity(config.local_capacity.value_or(default_capacity(workers))) {}

  // Marks connection `generation` of `node` (1-based) down; it is dialled again later. False
  // when it was down already.
  bool down(std::uint32_t node, std::uint64_t generation, const std::string& why) {
    std::unique_lock lock{mutex};
    auto& n = nodes[node - 1];
    if (n.generation != generation || !n.up)
      return false;
    n.up = false;
    n.actor = caf::actor{};
    n.in_flight = 0;
    n.last_error = why;
    n.next_dial = Clock::now() + config.reconnect_interval;
    up_count.fetch_sub(1, std::memory_order_relaxed);
    auto line = "cluster: node " + n.address + " is down (" + why + "); dialling it again";
    wake.notify_all();
    changed.notify_all();
    lock.unlock();
    log(line); // unlocked: the host's callback may ask for the cluster's status
    return true;
  }

  // Connection `generation` of `node` fell silent: down, and every batch with launches on
  // nodes hears of it (its own monitor of the host sees nothing: the connection is open).
  // The resource controllers return what the node's model calls hold (`process`: its id).
  // Sent as `as` (the watcher): the receivers take this only from an actor of this process.
  void silent(std::uint32_t node, std::uint64_t generation, const caf::node_id& process,
              std::chrono::milliseconds silence, const caf::actor& as) {
    if (!down(node, generation,
              "silent: no answer to heartbeats for " + std::to_string(silence.count()) + " ms"))
      return;
    std::vector<caf::actor_addr> listeners;
    caf::actor limits;
    {
      std::lock_guard lock{mutex};
      listeners.assign(batches.begin(), batches.end());
      limits = gateway;
    }
    if (limits)
      caf::send_as(as, limits, node_silent_atom::value, process);
    for (const auto& batch : listeners)
      if (auto actor = caf::actor_cast<caf::actor>(batch))
        caf::send_as(as, actor, silent_atom::value, node, generation);
  }

  // Dials node `index` (0-based) from this thread: a scoped actor waits for the connection
  // and the node's hello, each at most the connect timeout.
  Result<void> dial(std::size_t index) {
    std::string host;
    std::uint16_t port = 0;
    caf::actor watching;
    {
      std::lock_guard lock{mutex}; // the caller has marked the node `dialling`
      host = nodes[index].host;
      port = nodes[index].port;
      watching = watcher;
    }
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.connect_timeout);
    std::optional<Error> failed;
    caf::actor actor;
    std::size_t capacity = 0;
    {
      caf::scoped_actor self{system};
      self->request(network_of(system), timeout, caf::connect_atom::value, host, port)
          .receive(
              [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
                actor = caf::actor_cast<caf::actor>(std::move(ptr));
              },
              [&](caf::error& err) {
                failed = Error{Errc::connection_failed, system.render(err)};
              });
      if (!failed && !actor)
        failed = Error{Errc::connection_failed, "nothing is published there"};
      if (!failed)
        self->request(actor, timeout, hello_atom::value, cluster_protocol_version)
            .receive(
                [&](std::uint32_t version, std::uint64_t cap) {
                  if (version != cluster_protocol_version)
                    failed =
                        Error{Errc::bad_input, "it speaks cluster protocol " +
                                                   std::to_string(version) + ", this Runtime " +
                                                   std::to_string(cluster_protocol_version)};
                  capacity = static_cast<std::size_t>(cap);
                },
                [&](caf::error& err) {
                  failed =
                      Error{Errc::connection_failed,
                            "no hello from it (is it an actorflow node?): " + system.render(err)};
                });
    }
    std::unique_lock lock{mutex};
    auto& n = nodes[index];
    n.dialling = false;
    if (stopped)
      return Error{Errc::cancelled, "cluster: the runtime is shutting down"};
    if (failed) {
      n.last_error = failed->message;
      n.next_dial = Clock::now() + config.reconnect_interval;
      wake.notify_all(); // the dialler's next wait ends at next_dial
      failed->message = "cluster node " + n.address + ": " + failed->message;
      return *failed;
    }
    n.actor = actor;
    n.up = true;
    n.capacity = std::max<std::size_t>(1, capacity);
    n.in_flight = 0;
    n.connects += 1;
    n.last_error.clear();
    auto generation = ++n.generation;
    up_count.fetch_add(1, std::memory_order_relaxed);
    auto address = n.address;
    changed.notify_all();
    lock.unlock();
    caf::anon_send(watching, watch_atom::value, static_cast<std::uint32_t>(index + 1), generation,
                   actor);
    log("cluster: connected to node " + address + " (capacity " + std::to_string(capacity) + ")");
    return {};
  }

  // The dialler thread: dials every node that is down once its time has come.
  void dial_loop() {
    std::unique_lock lock{mutex};
    while (!stopped) {
      auto next = Clock::time_point::max();
      std::optional<std::size_t> due;
      auto now = Clock::now();
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        const auto& n = nodes[i];
        if (n.up || n.dialling)
          continue;
        if (n.next_dial <= now) {
          due = i;
          break;
        }
        next = std::min(next, n.next_dial);
      }
      if (!due) {
        if (next == Clock::time_point::max())
          wake.wait(lock);
        else
          wake.wait_until(lock, next);
        continue;
      }
      nodes[*due].dialling = true; // under the lock that found it due: no second dial
      lock.unlock();
      (void)dial(*due); // a failure is recorded on the node; a success logged
      lock.lock();
    }
  }

  caf::actor_system& system;
  ClusterConfig config;
  std::function<void(std::string_view)> log;
  const std::size_t local_capacity;
  caf::actor watcher;
  caf::actor gateway; // guarded by mutex; Cluster's own, until it disconnects

  mutable std::mutex mutex;
  std::condition_variable wake;                // the dialler's: a node went down, or stop
  mutable std::condition_variable changed;     // a node came up or went down
  bool stopped = false;                        // guarded by mutex
  std::vector<Node> nodes;                     // guarded by mutex; never shrinks
  std::unordered_set<caf::actor_addr> batches; // guarded by mutex: see Cluster::join
  // Launches running here. Atomic: with no node up, placement takes no lock at all.
  std::atomic<std::size_t> local_in_flight{0};
  std::atomic<std::size_t> up_count{0};
  std::thread dialler;
};

namespace {

// Monitors every connected node's host: a down message marks the node down. And, unless
// `node_silence` is 0, sends each a heartbeat every quarter of it: a node that leaves one
// unanswered for `node_silence` is marked down too.
struct WatcherState {
  struct Watched {
    std::uint32_t node = 0;
    std::uint64_t generation = 0;
    caf::actor host;
    // When the oldest ping not answered yet went out; none while every ping is answered.
    // Counted from the send, not from the last answer: a watcher whose own ticks run late (a
    // swamped scheduler) sends late, and does not blame the node for it.
    std::optional<Clock::time_point> asked;
  };
  std::unordered_map<caf::actor_addr, Watched> watched;
  bool ticking = false;
  static inline const char* name = "actorflow.cluster_watcher";
};

caf::behavior cluster_watcher(caf::stateful_actor<WatcherState>* self, Cluster::Impl* impl) {
  const auto silence = std::max(std::chrono::milliseconds{0}, impl->config.node_silence);
  const auto period = std::max(std::chrono::milliseconds{1}, silence / 4);
  self->set_down_handler([self, impl](caf::down_msg& down) {
    auto it = self->state.watched.find(down.source);
    if (it == self->state.watched.end())
      return;
    auto [node, generation] = std::pair{it->second.node, it->second.generation};
    self->state.watched.erase(it);
    impl->down(node, generation, "connection lost: " + self->system().render(down.reason));
  });
  return {
      [=](watch_atom, std::uint32_t node, std::uint64_t generation, caf::actor& host) {
        auto& st = self->state;
        st.watched[host.address()] = {node, generation, host, std::nullopt};
        self->monitor(host);
        if (silence.count() > 0 && !st.ticking) {
          st.ticking = true;
          self->delayed_send(self, period, tick_atom::value);
        }
      },
      [=](tick_atom) {
        auto& st = self->state;
        const auto now = Clock::now();
        std::vector<WatcherState::Watched> silent;
        for (auto it = st.watched.begin(); it != st.watched.end();) {
          auto& w = it->second;
          if (w.asked && now - *w.asked >= silence) {
            self->demonitor(w.host); // a reconnect monitors it again: no pile of monitors
            silent.push_back(std::move(w));
            it = st.watched.erase(it);
            continue;
          }
          if (!w.asked)
            w.asked = now;
          self->send(w.host, ping_atom::value, w.generation);
          ++it;
        }
        for (const auto& w : silent)
          impl->silent(w.node, w.generation, w.host.node(), silence,
                       caf::actor_cast<caf::actor>(self));
        st.ticking = !st.watched.empty();
        if (st.ticking)
          self->delayed_send(self, period, tick_atom::value);
      },
      [self](pong_atom, std::uint64_t generation) {
        auto it = self->state.watched.find(
            self->current_sender() ? self->current_sender()->address() : caf::actor_addr{});
        if (it != self->state.watched.end() && it->second.generation == generation)
          it->second.asked.reset();
      },
  };
}

} // namespace

Cluster::Cluster(caf::actor_system& system, ClusterConfig config, std::size_t workers,
                 std::function<void(std::string_view)> log, caf::actor gateway)
    : impl_(std::make_unique<Impl>(system, std::move(config), workers, std::move(log))),
      gateway_(std::move(gateway)) {
  impl_->gateway = gateway_;
  impl_->watcher = system.spawn(cluster_watcher, impl_.get());
  impl_->dialler = std::thread([impl = impl_.get()] { impl->dial_loop(); });
  // The configured nodes are dialled together, so that the first run can use them: the
  // constructor waits for the slowest (its connection, then its hello, each at most the
  // connect timeout). One that fails is dialled again in the background.
  std::vector<std::thread> dials;
  for (const auto& address : impl_->config.nodes) {
    auto claimed = claim(address);
    if (!claimed) {
      impl_->log(claimed.error().message + "; not used");
      continue;
    }
    if (*claimed)
      dials.emplace_back([impl = impl_.get(), index = **claimed] {
        if (auto dialled = impl->dial(index); !dialled)
          impl->log(dialled.error().message + "; dialling it again in the background");
      });
  }
  for (auto& dial : dials)
    dial.join();
}

Cluster::~Cluster() { disconnect(); }

void Cluster::disconnect() {
  {
    std::lock_guard lock{impl_->mutex};
    if (impl_->stopped)
      return;
    impl_->stopped = true;
    for (auto& n : impl_->nodes) {
      n.actor = caf::actor{};
      n.up = false; // no placement gets a handle that is gone
    }
    impl_->up_count.store(0, std::memory_order_relaxed);
    impl_->gateway = caf::actor{};
    impl_->wake.notify_all();
    impl_->changed.notify_all();
  }
  if (impl_->dialler.joinable())
    impl_->dialler.join();
  caf::anon_send_exit(impl_->watcher, caf::exit_reason::user_shutdown);
  impl_->watcher = caf::actor{};
  caf::anon_send_exit(gateway_, caf::exit_reason::user_shutdown);
  gateway_ = caf::actor{};
}

Result<std::optional<std::size_t>> Cluster::claim(const std::string& address) {
  auto split = split_address(address);
  if (!split)
    return split.error();
  if (auto allowed = check_off_loopback(impl_->config, split->first, "cluster node " + address);
      !allowed)
    return allowed.error();
  std::lock_guard lock{impl_->mutex};
  if (impl_->stopped)
    return Error{Errc::cancelled, "cluster: the runtime is shutting down"};
  auto& nodes = impl_->nodes;
  auto it = std::find_if(nodes.begin(), nodes.end(),
                         [&](const Impl::Node& n) { return n.address == address; });
  if (it != nodes.end() && (it->up || it->dialling))
    return std::optional<std::size_t>{}; // already there, or on its way
  if (it == nodes.end()) {
    Impl::Node node;
    node.address = address;
    node.host = split->first;
    node.port = split->second;
    nodes.push_back(std::move(node));
    it = nodes.end() - 1;
  }
  it->dialling = true; // in the lock that checked it: the dialler will not dial it too
  return std::optional<std::size_t>(static_cast<std::size_t>(it - nodes.begin()));
}

Result<void> Cluster::connect(const std::string& address) {
  auto claimed = claim(address);
  if (!claimed)
    return claimed.error();
  if (!*claimed)
    return {}; // up, or being dialled (a background dial may still fail)
  return impl_->dial(**claimed);
}

Cluster::Place Cluster::place() {
  auto& impl = *impl_;
  if (impl.up_count.load(std::memory_order_relaxed) == 0) { // the common case of a node host
    impl.local_in_flight.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  std::lock_guard lock{impl.mutex};
  // The free room at each place; this Runtime wins ties, and with no node up it is the place.
  std::int64_t best_free = std::numeric_limits<std::int64_t>::min();
  std::uint32_t best = 0;
  if (impl.local_capacity > 0) // else nodes only; with none up, `best` stays here anyway
    best_free = static_cast<std::int64_t>(impl.local_capacity) -
                static_cast<std::int64_t>(impl.local_in_flight.load(std::memory_order_relaxed));
  for (std::size_t i = 0; i < impl.nodes.size(); ++i) {
    const auto& n = impl.nodes[i];
    if (!n.up)
      continue;
    auto free = static_cast<std::int64_t>(n.capacity) - static_cast<std::int64_t>(n.in_flight);
    if (free > best_free) {
      best_free = free;
      best = static_cast<std::uint32_t>(i + 1);
    }
  }
  if (best == 0) {
    impl.local_in_flight.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  auto& n = impl.nodes[best - 1];
  ++n.in_flight;
  return Place{best, n.generation, n.actor};
}

void Cluster::release(std::uint32_t node, std::uint64_t generation, bool done) {
  if (node == 0) { // every local place() is matched by one release
    impl_->local_in_flight.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock{impl_->mutex};
  auto& n = impl_->nodes[node - 1];
  if (n.generation != generation)
    return; // counted against a connection that is gone
  if (n.in_flight > 0)
    --n.in_flight;
  if (done)
    ++n.done;
}

void Cluster::join(const caf::actor_addr& batch) {
  std::lock_guard lock{impl_->mutex};
  impl_->batches.insert(batch);
}

void Cluster::leave(const caf::actor_addr& batch) {
  std::lock_guard lock{impl_->mutex};
  impl_->batches.erase(batch);
}

void Cluster::lost(std::uint32_t node, std::uint64_t generation, std::size_t requeued) {
  {
    std::lock_guard lock{impl_->mutex};
    impl_->nodes[node - 1].requeued += requeued;
  }
  impl_->down(node, generation, "connection lost");
}

const ClusterConfig& Cluster::config() const noexcept { return impl_->config; }

std::string Cluster::address(std::uint32_t node) const {
  std::lock_guard lock{impl_->mutex};
  return node == 0 || node > impl_->nodes.size() ? std::string() : impl_->nodes[node - 1].address;
}

bool Cluster::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock{impl_->mutex};
  return impl_->changed.wait_for(lock, timeout, [&] {
    return impl_->stopped || std::all_of(impl_->nodes.begin(), impl_->nodes.end(),
                                         [](const Impl::Node& n) { return n.up; });
  });
}

std::vector<NodeStatus> Cluster::status() const {
  std::lock_guard lock{impl_->mutex};
  std::vector<NodeStatus> out;
  for (const auto& n : impl_->nodes)
    out.push_back(NodeStatus{n.address, n.up, n.capacity, n.in_flight, n.done, n.requeued,
                             n.connects, n.last_error});
  return out;
}
} // namespace actorflow::actors
