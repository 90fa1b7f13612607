// The cluster: the owner's node table and dialler, its limit gateway, and the node host that
// runs other Runtimes' items. See cluster.hpp.

#include "actors/cluster.hpp"
#include "actors/limit_controller.hpp"
#include "core/msgpack_pack.hpp"
#include "core/outcome_codec.hpp"
#include "core/run_meter.hpp"
#include "core/text.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <unordered_map>

namespace actorflow::actors {

namespace {

using watch_atom = caf::atom_constant<caf::atom("af_watch")>;
using Clock = std::chrono::steady_clock;

// "host:port" (the host may be a bracketed IPv6 address).
Result<std::pair<std::string, std::uint16_t>> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  auto bad = [&](const char* why) {
    return Error{Errc::bad_input, "cluster node '" + address + "': " + why +
                                      " (expected host:port, e.g. 127.0.0.1:7000)"};
  };
  if (colon == std::string::npos || colon == 0)
    return bad("no host and port");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto digits = std::string_view(address).substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || end != digits.data() + digits.size() || port == 0 || port > 65535)
    return bad("the port is not a number from 1 to 65535");
  return std::pair{std::move(host), static_cast<std::uint16_t>(port)};
}

Result<void> check_readable(const std::string& path, const char* what) {
  if (path.empty())
    return Error{Errc::bad_input, std::string("TLS: no ") + what + " file given (TLS needs a "
                                  "certificate, its key and the CA that signs the peers)"};
  if (!std::ifstream(path))
    return Error{Errc::bad_input, std::string("TLS: cannot read the ") + what + " file '" + path +
                                      "'"};
  return {};
}

} // namespace

std::size_t default_capacity(std::size_t workers) {
  return 64 * workers; // what ClusterConfig::local_capacity and ServeOptions::capacity say
}

// -- bytes on the wire ------------------------------------------------------------------------

std::vector<char> wire_bytes(const std::vector<std::uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

std::vector<char> to_wire(const Value& value) {
  detail::MsgpackWriter writer;
  detail::pack_value(writer, value);
  return {writer.buffer.data(), writer.buffer.data() + writer.buffer.size()};
}

std::span<const std::uint8_t> wire_view(const std::vector<char>& bytes) {
  return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

void CallLog::add(const ModelCallEvent& event) {
  std::lock_guard guard{mutex_};
  if (events_.size() < max_kept)
    events_.push_back(event);
}

std::vector<ModelCallEvent> CallLog::take() {
  std::lock_guard guard{mutex_};
  return std::exchange(events_, {});
}

namespace {

std::uint64_t count_of(const Value* field) {
  return field != nullptr && field->is_int() && field->as_int() > 0
             ? static_cast<std::uint64_t>(field->as_int())
             : 0;
}

Value encode_call(const ModelCallEvent& call) {
  Map map{{"provider", call.provider},
          {"model", call.model},
          {"waited_ns", call.waited.count()},
          {"took_ns", call.took.count()},
          {"estimated_tokens", static_cast<std::int64_t>(call.estimated_tokens)},
          {"prompt_tokens", static_cast<std::int64_t>(call.usage.prompt_tokens)},
          {"completion_tokens", static_cast<std::int64_t>(call.usage.completion_tokens)},
          {"total_tokens", static_cast<std::int64_t>(call.usage.total_tokens)}};
  if (call.error)
    map.emplace("error", detail::encode_error(*call.error));
  return map;
}

std::optional<ModelCallEvent> decode_call(const Value& map) {
  const Value* provider = map.find("provider");
  const Value* model = map.find("model");
  if (provider == nullptr || !provider->is_string() || model == nullptr || !model->is_string())
    return std::nullopt;
  ModelCallEvent call;
  call.provider = provider->as_string();
  call.model = model->as_string();
  call.waited = std::chrono::nanoseconds(count_of(map.find("waited_ns")));
  call.took = std::chrono::nanoseconds(count_of(map.find("took_ns")));
  call.estimated_tokens = count_of(map.find("estimated_tokens"));
  call.usage = Usage{count_of(map.find("prompt_tokens")), count_of(map.find("completion_tokens")),
                     count_of(map.find("total_tokens"))};
  if (const Value* error = map.find("error"); error != nullptr) {
    Error decoded;
    if (!detail::decode_error(*error, "model call: error", decoded))
      return std::nullopt;
    call.error = std::move(decoded);
  }
  return call;
}

} // namespace

std::vector<char> encode_calls(const RunUsage& u, const std::vector<ModelCallEvent>& calls) {
  Array events;
  events.reserve(calls.size());
  for (const auto& call : calls)
    events.push_back(encode_call(call));
  return to_wire(Value(Array{u.calls, u.failed_calls, u.rate_limited, u.prompt_tokens,
                             u.completion_tokens, u.refused, Value(std::move(events))}));
}

LaunchCalls decode_calls(const std::vector<char>& bytes) {
  auto decoded = from_msgpack(wire_view(bytes));
  if (!decoded || !decoded->is_array() || decoded->as_array().size() < 6)
    return {};
  const auto& fields = decoded->as_array();
  std::array<std::uint64_t, 6> n{};
  for (std::size_t i = 0; i < n.size(); ++i)
    n[i] = count_of(&fields[i]);
  LaunchCalls out{RunUsage{n[0], n[1], n[2], n[3], n[4], n[5]}, {}};
  if (fields.size() > 6 && fields[6].is_array())
    for (const auto& event : fields[6].as_array())
      if (auto call = decode_call(event))
        out.calls.push_back(std::move(*call));
  return out;
}

NodeFactory registered_factory(EnvironmentPtr env, std::string type) {
  return [env = std::move(env), type = std::move(type)] {
    auto made = env->nodes.make(type);
    if (!made)
      throw Failure(made.error());
    return std::move(*made);
  };
}

// -- the network layer -------------------------------------------------------------------------

Result<void> load_network(caf::actor_system_config& cfg, const ClusterConfig& config) {
  cfg.load<caf::io::middleman>();
  if (config.tls.empty())
    return {};
  const auto& tls = config.tls;
  for (auto [path, what] : {std::pair{&tls.certificate, "certificate"},
                            std::pair{&tls.key, "key"}, std::pair{&tls.ca, "CA"}})
    if (auto readable = check_readable(*path, what); !readable)
      return readable;
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_cafile = tls.ca;
  cfg.load<caf::openssl::manager>();
  return {};
}

// The middleman actor that dials and publishes: OpenSSL's when TLS is configured.
caf::io::middleman_actor network_of(caf::actor_system& system) {
  if (system.has_openssl_manager())
    return system.openssl_manager().actor_handle();
  return system.middleman().actor_handle();
}

// -- the owner: nodes, placement, dialling ------------------------------------------------------

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

  // Marks connection `generation` of `node` (1-based) down; it is dialled again later.
  void down(std::uint32_t node, std::uint64_t generation, const std::string& why) {
    std::unique_lock lock{mutex};
    auto& n = nodes[node - 1];
    if (n.generation != generation || !n.up)
      return;
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
                    failed = Error{Errc::bad_input,
                                   "it speaks cluster protocol " + std::to_string(version) +
                                       ", this Runtime " +
                                       std::to_string(cluster_protocol_version)};
                  capacity = static_cast<std::size_t>(cap);
                },
                [&](caf::error& err) {
                  failed = Error{Errc::connection_failed,
                                 "no hello from it (is it an actorflow node?): " +
                                     system.render(err)};
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

  mutable std::mutex mutex;
  std::condition_variable wake;        // the dialler's: a node went down, or stop
  mutable std::condition_variable changed; // a node came up or went down
  bool stopped = false;                // guarded by mutex
  std::vector<Node> nodes;             // guarded by mutex; never shrinks
  // Launches running here. Atomic: with no node up, placement takes no lock at all.
  std::atomic<std::size_t> local_in_flight{0};
  std::atomic<std::size_t> up_count{0};
  std::thread dialler;
};

namespace {

// Monitors every connected node's host; a down message marks the node down.
struct WatcherState {
  std::unordered_map<caf::actor_addr, std::pair<std::uint32_t, std::uint64_t>> watched;
  static inline const char* name = "actorflow.cluster_watcher";
};

caf::behavior cluster_watcher(caf::stateful_actor<WatcherState>* self, Cluster::Impl* impl) {
  self->set_down_handler([self, impl](caf::down_msg& down) {
    auto it = self->state.watched.find(down.source);
    if (it == self->state.watched.end())
      return;
    auto [node, generation] = it->second;
    self->state.watched.erase(it);
    impl->down(node, generation, "connection lost: " + self->system().render(down.reason));
  });
  return {
      [self](watch_atom, std::uint32_t node, std::uint64_t generation, caf::actor& host) {
        self->state.watched[host.address()] = {node, generation};
        self->monitor(host);
      },
  };
}

} // namespace

Cluster::Cluster(caf::actor_system& system, ClusterConfig config, std::size_t workers,
                 std::function<void(std::string_view)> log, caf::actor gateway)
    : impl_(std::make_unique<Impl>(system, std::move(config), workers, std::move(log))),
      gateway_(std::move(gateway)) {
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

Cluster::~Cluster() { stop(); }

void Cluster::stop() {
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
  if (!impl_->config.insecure && impl_->config.tls.empty() && !detail::is_loopback_host(split->first))
    return Error{Errc::bad_input, "cluster node " + address +
                                      ": off loopback, connections need TLS "
                                      "(ClusterConfig::tls) or ClusterConfig::insecure"};
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

// -- the owner's limit gateway -----------------------------------------------------------------

namespace {

// Spawned with its argument (not a capturing lambda): CAF 0.17 spawns an argument-less
// function through a null tuple pointer, which UndefinedBehaviorSanitizer reports.
caf::behavior limit_gateway(caf::event_based_actor*,
                            std::shared_ptr<LimitControllers> controllers) {
  return {
      [controllers](ctrl_atom, const std::string& provider,
                    const std::string& model) -> caf::result<caf::actor, std::uint64_t> {
        auto controller = controllers->controller(provider, model);
        if (!controller)
          return caf::make_error(caf::sec::request_receiver_down,
                                 "the run's runtime is shutting down");
        return {std::move(controller), controllers->next_lease_id()};
      },
  };
}

} // namespace

caf::actor spawn_limit_gateway(caf::actor_system& system,
                               std::shared_ptr<LimitControllers> controllers) {
  return system.spawn(limit_gateway, std::move(controllers));
}

// -- the node host -----------------------------------------------------------------------------

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

caf::behavior node_host(HostActor* self, EnvironmentPtr environment, std::uint64_t capacity) {
  self->state.env = std::move(environment);
  self->state.capacity = capacity;
  self->state.hooks = std::make_shared<const RunHooks>(RunOptions{}, 0,
                                              std::make_shared<detail::RunMeter>(), nullptr,
                                              nullptr);
  // A peer's message of a kind this host does not know: logged (cut short) and dropped, never
  // fatal. No answer: an error sent back would end a sender that has no error handler.
  self->set_default_handler([](caf::scheduled_actor* actor, caf::message_view& message)
                                -> caf::result<caf::message> {
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
      [self](rexec_atom, std::uint32_t version, const std::string& type,
             const std::vector<char>& payload, std::uint32_t slot, std::uint32_t launch,
             std::uint64_t index, std::uint32_t attempt, const caf::actor& gateway,
             std::uint64_t run, double weight) {
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
            return fail(Errc::invalid_flow, st.env->nodes.make(type).error().message +
                                                " (on this cluster node)");
          known = st.types
                      .emplace(type, remote_node_type(Scope{st.env, st.hooks, "", 0}, type,
                                                      registered_factory(st.env, type)))
                      .first;
        }
        auto item = from_msgpack(wire_view(payload));
        if (!item)
          return fail(Errc::bad_input, "the item's payload does not decode: " +
                                           item.error().message);
        if (!gateway)
          return fail(Errc::bad_input, "the launch names no limit gateway");
        // Each launch counts and keeps its own model calls: they go back with its outcome.
        auto calls = std::make_shared<CallLog>();
        RunOptions counting;
        counting.on_model_call = [calls](const ModelCallEvent& call) { calls->add(call); };
        auto usage = std::make_shared<const RunHooks>(
            std::move(counting), run, std::make_shared<detail::RunMeter>(), nullptr, nullptr);
        RemoteLaunch remote{batch, slot, launch, static_cast<std::size_t>(index), attempt,
                            RemoteLimits{gateway, run, weight, std::move(usage), std::move(calls)},
                            std::move(*item)};
        auto actor = spawn_remote_item(self, *known->second, std::move(remote));
        st.items[{batch.address(), launch}] = actor;
        if (st.batches[batch.address()]++ == 0)
          self->monitor(batch);
      },
      [self](rcancel_atom, std::uint32_t launch) {
        auto& items = self->state.items;
        if (auto it = items.find({caf::actor_cast<caf::actor_addr>(self->current_sender()),
                                  launch});
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

Result<std::pair<caf::actor, std::uint16_t>> serve_node(caf::actor_system& system,
                                                        EnvironmentPtr env,
                                                        const ClusterConfig& config,
                                                        const ServeOptions& options,
                                                        std::size_t workers) {
  if (!config.insecure && config.tls.empty() && !detail::is_loopback_host(options.bind))
    return Error{Errc::bad_input, "serve: binding " + options.bind +
                                      " (off loopback) needs TLS (ClusterConfig::tls) or "
                                      "ClusterConfig::insecure"};
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
                                                         ":" + std::to_string(options.port) +
                                                         ": " + system.render(err)};
                 });
  }
  if (failed) {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    return *failed;
  }
  return std::pair{std::move(host), port};
}

} // namespace actorflow::actors
