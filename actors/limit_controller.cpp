// The resource-controller actor: a LimitScheduler driven by the runtime's clock. Askers are
// node and item actors (acquire_atom, answered when granted); leases come back as CallEnd
// messages from whatever thread the provider completes on (actors/lease.hpp). Askers are monitored
// while they wait or hold a lease, so that a killed caller's request is withdrawn and its lease
// returned.

#include "actors/limit_controller.hpp"

#include <actorflow/report.hpp>

#include "actors/lease.hpp"
#include "actors/messages.hpp"
#include "core/limit_scheduler.hpp"
#include "core/run_meter.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace actorflow::actors {

namespace {

using detail::LimitScheduler;
using Clock = LimitScheduler::Clock;
using std::chrono::nanoseconds;

/// What `Runtime::limit_stats` reads: written by the controller, read by host threads.
class StatsBox {
public:
  StatsBox(std::string provider, std::string model, Limits limits) {
    stats_.provider = std::move(provider);
    stats_.model = std::move(model);
    stats_.limits = limits;
  }

  template <class F>
  void update(F&& f) {
    std::lock_guard lock{mutex_};
    f(stats_);
  }

  void add_wait(nanoseconds wait) {
    std::lock_guard lock{mutex_};
    if (waits_.size() < max_waits)
      waits_.push_back(wait);
    else
      waits_[next_wait_++ % max_waits] = wait;
  }

  [[nodiscard]] LimitStats snapshot() const {
    std::vector<nanoseconds> waits;
    LimitStats out;
    {
      std::lock_guard lock{mutex_};
      out = stats_;
      waits = waits_;
    }
    // The same percentile rule (nearest rank) as every RunReport.
    const auto summary = LatencySummary::of(std::move(waits));
    out.wait_p50 = summary.p50;
    out.wait_p90 = summary.p90;
    out.wait_p99 = summary.p99;
    out.wait_max = summary.max;
    return out;
  }

private:
  static constexpr std::size_t max_waits = 4096;
  mutable std::mutex mutex_;
  LimitStats stats_;
  std::vector<nanoseconds> waits_; // the most recent grants' waits, a ring
  std::size_t next_wait_ = 0;
};
using StatsBoxPtr = std::shared_ptr<StatsBox>;

struct Asker {
  caf::response_promise promise;
  caf::actor_addr holder;
  Clock::time_point asked;
};

// Answers an asker with (granted, Errc, message, waited ns): built-in types, which an item on
// a cluster node receives without any type registered on either side.
void answer(Asker& asker, std::optional<Error> error, nanoseconds waited) {
  if (!error)
    return asker.promise.deliver(true, std::uint8_t{0}, std::string(), waited.count());
  asker.promise.deliver(false, static_cast<std::uint8_t>(error->code), std::move(error->message),
                        std::int64_t{0});
}

struct ControllerState {
  std::optional<LimitScheduler> scheduler;
  StatsBoxPtr box;
  std::unordered_map<std::uint64_t, Asker> waiting;
  std::unordered_map<std::uint64_t, caf::actor_addr> leased; // lease id -> its holder
  std::unordered_map<caf::actor_addr, std::size_t> holders;  // monitored, with their ids
  std::optional<Clock::time_point> timer_at;
  nanoseconds backoff{0}; // after 429s without Retry-After: 1 s, doubling to 60 s
  static inline const char* name = "limit_controller";
};

using ControllerActor = caf::stateful_actor<ControllerState>;

void hold(ControllerActor* self, const caf::actor_addr& holder) {
  if (!holder)
    return; // an anonymous asker cannot be monitored
  if (self->state.holders[holder]++ == 0)
    self->monitor(holder);
}

void unhold(ControllerActor* self, const caf::actor_addr& holder) {
  if (!holder)
    return; // an anonymous asker is not monitored
  auto it = self->state.holders.find(holder);
  if (it == self->state.holders.end() || --it->second != 0)
    return;
  self->state.holders.erase(it);
  self->demonitor(holder);
}

/// A caller died or fell silent: withdraws what it waits for, returns what it holds (at its
/// estimate; its call may still be running, but nobody will report its end).
void forget_holder(ControllerActor* self, const caf::actor_addr& holder) {
  auto& st = self->state;
  st.holders.erase(holder);
  for (auto it = st.waiting.begin(); it != st.waiting.end();) {
    if (it->second.holder != holder) {
      ++it;
      continue;
    }
    st.scheduler->cancel(it->first);
    it = st.waiting.erase(it);
  }
  for (auto it = st.leased.begin(); it != st.leased.end();) {
    if (it->second != holder) {
      ++it;
      continue;
    }
    auto counted = st.scheduler->release(it->first, std::nullopt);
    st.box->update([&](LimitStats& s) { s.tokens_used += counted; });
    it = st.leased.erase(it);
  }
}

/// Grants what can be granted now, refuses what never will be, and sets the timer for the
/// next grant.
void pump(ControllerActor* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto grants = st.scheduler->poll(now);
  for (auto id : grants.granted) {
    auto it = st.waiting.find(id);
    if (it == st.waiting.end())
      continue; // cannot happen: every queued id has an asker
    auto waited = std::chrono::duration_cast<nanoseconds>(now - it->second.asked);
    st.leased.emplace(id, it->second.holder);
    st.box->add_wait(waited);
    answer(it->second, std::nullopt, waited);
    st.waiting.erase(it);
  }
  for (auto& [id, error] : grants.refused) {
    auto it = st.waiting.find(id);
    if (it == st.waiting.end())
      continue;
    unhold(self, it->second.holder);
    answer(it->second, std::move(error), {});
    st.waiting.erase(it);
  }
  if (grants.next && (!st.timer_at || *grants.next < *st.timer_at)) {
    st.timer_at = grants.next;
    // Rounded up: a timer that fires early finds nothing to grant and must be set again.
    self->delayed_send(self, std::chrono::ceil<std::chrono::microseconds>(*grants.next - now),
                       poll_atom::value);
  }
  auto window = st.scheduler->window_usage(now);
  st.box->update([&](LimitStats& s) {
    s.limits = st.scheduler->limits();
    s.in_flight = st.scheduler->in_flight();
    s.waiting = st.scheduler->waiting();
    s.granted += grants.granted.size();
    s.refused += grants.refused.size();
    s.requests_last_minute = window.requests;
    s.tokens_last_minute = window.tokens;
  });
}

caf::response_promise acquire(ControllerActor* self, std::uint64_t id, std::uint64_t run,
                              double weight, std::uint64_t tokens) {
  auto& st = self->state;
  // Read before making the promise: making it takes the sender out of the message.
  caf::actor_addr holder;
  if (const auto& sender = self->current_sender())
    holder = sender->address();
  Asker asker{self->make_response_promise(), holder, self->clock().now()};
  if (auto queued = st.scheduler->request(id, run, tokens, weight); !queued) {
    st.box->update([](LimitStats& s) { ++s.refused; });
    answer(asker, std::move(queued).error(), {});
    return asker.promise;
  }
  hold(self, holder);
  auto promise = asker.promise;
  st.waiting.emplace(id, std::move(asker));
  pump(self);
  return promise;
}

// A granted call ended: settle its lease, learn from its rate-limit headers and 429s.
void settle(ControllerActor* self, const CallEnd& end) {
  auto& st = self->state;
  auto it = st.leased.find(end.lease);
  if (it == st.leased.end())
    return; // returned already: its holder died, or it was cancelled
  unhold(self, it->second);
  st.leased.erase(it);
  auto now = self->clock().now();
  if (!end.rate_limits.empty())
    st.scheduler->observe(end.rate_limits, now);
  if (end.rate_limited) {
    // Calls in flight together all meet the same limit: a pause already running counts
    // for them, so the backoff grows once per pause, not once per 429.
    if (now >= st.scheduler->paused_until())
      st.backoff = std::clamp<nanoseconds>(st.backoff * 2, std::chrono::seconds(1),
                                           std::chrono::seconds(60));
    st.scheduler->pause_until(now + end.retry_after.value_or(st.backoff));
  } else {
    st.backoff = nanoseconds{0};
  }
  auto counted = st.scheduler->release(end.lease, end.actual_tokens, end.actual_cost);
  st.box->update([&](LimitStats& s) {
    s.tokens_used += counted;
    s.cost += end.actual_cost.value_or(0);
    s.rate_limited += end.rate_limited ? 1 : 0;
  });
  pump(self);
}

caf::behavior limit_controller(ControllerActor* self, Limits limits, double worst_per_token,
                               StatsBoxPtr box) {
  self->state.scheduler.emplace(limits, worst_per_token);
  self->state.box = std::move(box);
  self->set_down_handler([self](caf::down_msg& down) {
    forget_holder(self, down.source);
    pump(self);
  });
  return {
      [self](acquire_atom, std::uint64_t id, std::uint64_t run, double weight,
             std::uint64_t tokens) { return acquire(self, id, run, weight, tokens); },
      [self](release_atom, std::uint64_t id, const std::vector<char>& fields) {
        settle(self, call_end_from(id, fields));
      },
      [self](cancel_atom, std::uint64_t id) {
        auto& st = self->state;
        if (auto it = st.waiting.find(id); it != st.waiting.end()) {
          st.scheduler->cancel(id);
          unhold(self, it->second.holder);
          answer(it->second, Error{Errc::cancelled, "the call was abandoned while it waited"}, {});
          st.waiting.erase(it);
        } else if (auto held = st.leased.find(id); held != st.leased.end()) {
          // Granted, but the asker gave up before it heard: no call was made.
          unhold(self, held->second);
          st.scheduler->release(id, 0);
          st.leased.erase(held);
        }
        pump(self);
      },
      [self](run_ended_atom, std::uint64_t run) { self->state.scheduler->forget_run(run); },
      [self](node_silent_atom, const caf::node_id& node) {
        if (!from_this_process(self)) // a node knows this controller: it asks it for grants
          return;
        std::vector<caf::actor_addr> silent;
        for (const auto& [holder, count] : self->state.holders)
          if (holder.node() == node)
            silent.push_back(holder);
        for (const auto& holder : silent) {
          self->demonitor(holder); // a late release of theirs finds nothing: see settle
          forget_holder(self, holder);
        }
        pump(self);
      },
      [](sync_atom) {},
      [self](poll_atom) {
        auto& st = self->state;
        if (st.timer_at && *st.timer_at <= self->clock().now())
          st.timer_at.reset();
        pump(self);
      },
  };
}

/// "provider/model", else "provider", else no limits.
Limits limits_for(const std::map<std::string, Limits>& config, std::string_view provider,
                  std::string_view model) {
  std::string key(provider);
  key.append("/").append(model);
  if (auto it = config.find(key); it != config.end())
    return it->second;
  if (auto it = config.find(std::string(provider)); it != config.end())
    return it->second;
  return Limits{};
}

} // namespace

struct LimitControllers::Impl {
  struct Entry {
    caf::actor actor;
    StatsBoxPtr box;
  };
  Impl(caf::actor_system& sys, std::map<std::string, Limits> limits, PriceTable price_table)
      : system(sys), config(std::move(limits)), prices(std::move(price_table)) {}
  caf::actor_system& system;
  std::map<std::string, Limits> config;
  PriceTable prices;
  std::atomic<std::uint64_t> next_id{1};
  mutable std::mutex mutex;
  bool stopped = false; // guarded by mutex
  // provider -> model -> its controller; looked up by string_view on every model call.
  std::map<std::string, std::map<std::string, Entry, std::less<>>, std::less<>>
      entries; // guarded by mutex
};

LimitControllers::LimitControllers(caf::actor_system& system, std::map<std::string, Limits> config,
                                   PriceTable prices)
    : impl_(std::make_unique<Impl>(system, std::move(config), std::move(prices))) {}

LimitControllers::~LimitControllers() = default;

caf::actor LimitControllers::controller(std::string_view provider, std::string_view model) {
  std::lock_guard lock{impl_->mutex};
  if (impl_->stopped)
    return {};
  auto models = impl_->entries.find(provider);
  if (models == impl_->entries.end())
    models = impl_->entries.emplace(std::string(provider), decltype(models->second){}).first;
  auto it = models->second.find(model);
  if (it == models->second.end()) {
    auto limits = limits_for(impl_->config, provider, model);
    auto box = std::make_shared<StatsBox>(std::string(provider), std::string(model), limits);
    const auto price = impl_->prices.find(provider, model);
    auto actor =
        impl_->system.spawn(limit_controller, limits, price ? price->worst_per_token() : 0.0, box);
    it = models->second.emplace(std::string(model), Impl::Entry{std::move(actor), std::move(box)})
             .first;
  }
  return it->second.actor;
}

std::uint64_t LimitControllers::next_lease_id() noexcept {
  return impl_->next_id.fetch_add(1, std::memory_order_relaxed);
}

std::vector<LimitStats> LimitControllers::stats() const {
  std::vector<Impl::Entry> entries;
  {
    std::lock_guard lock{impl_->mutex};
    for (const auto& [provider, models] : impl_->entries)
      for (const auto& [model, entry] : models)
        entries.push_back(entry);
  }
  {
    // Each controller first handles what reached it before this call: a call's release can
    // still be in its mailbox when the call's run has ended, and the snapshot must count it.
    caf::scoped_actor self{impl_->system};
    for (const auto& entry : entries)
      if (entry.actor)
        self->request(entry.actor, std::chrono::seconds(1), sync_atom::value)
            .receive([] {}, [](caf::error&) {}); // a controller that is gone has nothing new
  }
  std::vector<LimitStats> out;
  for (const auto& entry : entries)
    out.push_back(entry.box->snapshot());
  return out;
}

void LimitControllers::run_ended(std::uint64_t run) {
  std::lock_guard lock{impl_->mutex};
  for (const auto& [provider, models] : impl_->entries)
    for (const auto& [model, entry] : models)
      if (entry.actor)
        caf::anon_send(entry.actor, run_ended_atom::value, run);
}

void LimitControllers::node_silent(const caf::node_id& node, const caf::actor& from) {
  std::lock_guard lock{impl_->mutex};
  for (const auto& [provider, models] : impl_->entries)
    for (const auto& [model, entry] : models)
      if (entry.actor)
        caf::send_as(from, entry.actor, node_silent_atom::value, node);
}

void LimitControllers::stop() {
  std::lock_guard lock{impl_->mutex};
  impl_->stopped = true;
  for (auto& [provider, models] : impl_->entries)
    for (auto& [model, entry] : models) {
      caf::anon_send_exit(entry.actor, caf::exit_reason::user_shutdown);
      entry.actor = caf::actor{}; // no handle into the system may outlive it
    }
}

} // namespace actorflow::actors
