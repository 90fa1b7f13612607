// `actorflow bench fanout-raw` (see bench.hpp): the plain-CAF baseline, so it talks to CAF
// directly.
#include <actorflow/actorflow.hpp>

#include "bench.hpp"
#include "bench_common.hpp"
#include "rss.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/response_promise.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <cxxabi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>
#include <typeinfo>
#include <vector>

namespace actorflow::tools {

namespace {

using fanout_atom = caf::atom_constant<caf::atom("fanout")>;

// Unsigned on purpose: large indices wrap instead of overflowing, and the reducer recomputes
// the same wrapped value to check the reply.
std::uint64_t item_value(std::uint64_t index) { return index * index + 1; }

// The child carries the index back with the value, so the reducer can prove which item
// answered rather than trusting that the reply matched its request.
// It also gets its index at spawn and answers for the index it was spawned for, so a request
// delivered to the wrong child shows up as a wrong reply. (The spawn argument also keeps CAF
// 0.17 away from its argument-less init path, which dereferences a null pointer: UBSan.)
caf::behavior item_actor(caf::event_based_actor* self, std::uint64_t spawned_for) {
  return {
      [self, spawned_for](std::uint64_t index) {
        self->quit(); // one request per child; CAF still sends the reply after quit()
        return std::make_tuple(index, index == spawned_for ? item_value(index) : 0);
      },
  };
}

struct ReducerState {
  std::uint64_t items = 0;
  std::uint64_t window = 0;
  std::uint64_t next = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t max_in_flight = 0;
  std::uint64_t done = 0;
  std::uint64_t errors = 0;
  std::uint64_t wrong = 0; // a reply that is out of range, repeated, or has the wrong value
  std::vector<bool> seen;  // a bit per item: "exactly once" without a sum that could overflow
  caf::duration timeout;
  caf::response_promise promise;
  static inline const char* name = "fanout-raw-reducer";
};

using Reducer = caf::stateful_actor<ReducerState>;

void pump(Reducer* self);

void finish_one(Reducer* self) {
  auto& st = self->state;
  --st.in_flight;
  if (++st.done == st.items)
    st.promise.deliver(st.done, st.errors, st.wrong, st.max_in_flight);
  else
    pump(self);
}

// A free function rather than a self-referencing std::function: the latter keeps itself alive
// through its own capture and leaks (see caf-notes §3).
void pump(Reducer* self) {
  auto& st = self->state;
  while (st.in_flight < st.window && st.next < st.items) {
    auto index = st.next++;
    auto child = self->spawn(item_actor, index);
    ++st.in_flight;
    st.max_in_flight = std::max(st.max_in_flight, st.in_flight);
    self->request(child, st.timeout, index)
        .then(
            [self, index](std::uint64_t got, std::uint64_t value) {
              auto& s = self->state;
              bool fresh = got < s.items && !s.seen[got];
              if (fresh)
                s.seen[got] = true;
              if (!fresh || got != index || value != item_value(got))
                ++s.wrong;
              finish_one(self);
            },
            [self](caf::error&) {
              ++self->state.errors;
              finish_one(self);
            });
  }
}

// The window comes at spawn (an argument also avoids CAF 0.17's argument-less init path, which
// UBSan flags), the item count with the request.
caf::behavior reducer(Reducer* self, std::uint64_t window) {
  self->state.window = window;
  return {
      [self](fanout_atom, std::uint64_t items, std::uint64_t timeout_ms) {
        auto& st = self->state;
        st.items = items;
        st.seen.assign(items, false);
        st.timeout = timeout_ms == 0 ? caf::duration{caf::infinite}
                                     : caf::duration{std::chrono::milliseconds(timeout_ms)};
        st.promise = self->make_response_promise();
        pump(self); // at least one item (RawFanoutOptions), so the promise is delivered
        return st.promise;
      },
  };
}

// The scheduler's dynamic type is the only direct evidence of which policy CAF picked: an
// unknown "scheduler.policy" value silently falls back to work stealing with just a warning
// on stderr.
std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name{
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free};
  return status == 0 && name ? std::string{name.get()} : std::string{mangled};
}

struct RawRun {
  std::size_t workers = 0;
  std::string scheduler;
  double wall_s = 0;
  bool replied = false;
  std::string failure;
  std::uint64_t done = 0;
  std::uint64_t errors = 0;
  std::uint64_t wrong = 0;
  std::uint64_t max_in_flight = 0;
};

RawRun run_fanout(const RawFanoutOptions& options) {
  RawRun run;
  caf::actor_system_config cfg; // must outlive the system: declared first, destroyed last
  cfg.set("scheduler.max-threads", options.workers);
  cfg.set("scheduler.policy", options.policy == SchedulerPolicy::sharing ? caf::atom("sharing")
                                                                         : caf::atom("stealing"));
  caf::actor_system system{cfg};
  auto& scheduler = system.scheduler();
  run.workers = scheduler.num_workers();
  run.scheduler = demangle(typeid(scheduler).name());

  // Handles live in this block so nothing keeps an actor alive when ~actor_system waits.
  {
    caf::scoped_actor caller{system};
    auto red = system.spawn(reducer, std::uint64_t{options.concurrency});
    auto t0 = BenchClock::now();
    caller
        ->request(red, caf::infinite, fanout_atom::value, std::uint64_t{options.items},
                  std::uint64_t{options.request_timeout_ms})
        .receive(
            [&](std::uint64_t done, std::uint64_t errors, std::uint64_t wrong,
                std::uint64_t max_in_flight) {
              run.replied = true;
              run.done = done;
              run.errors = errors;
              run.wrong = wrong;
              run.max_in_flight = max_in_flight;
            },
            [&](caf::error& error) { run.failure = system.render(error); });
    run.wall_s = seconds_since(t0);
    caller->send_exit(red, caf::exit_reason::user_shutdown);
  }
  return run;
}

} // namespace

int bench_fanout_raw(const RawFanoutOptions& options) {
  // The command line checked --items, --concurrency and --workers (at least 1 each).
  auto run = run_fanout(options);
  auto ok = run.replied && run.done == options.items && run.errors == 0 && run.wrong == 0 &&
            run.max_in_flight <= options.concurrency;
  auto items = static_cast<double>(options.items);
  auto report = Value::object({
      {"scenario", "fanout-raw"},
      {"items", options.items},
      {"concurrency", options.concurrency},
      {"workers", run.workers},
      {"policy", policy_name(options.policy)},
      {"scheduler", run.scheduler},
      {"request_timeout_ms", options.request_timeout_ms},
      {"wall_s", run.wall_s},
      {"per_item_us", run.wall_s * 1e6 / items},
      {"items_per_s", run.wall_s > 0 ? items / run.wall_s : 0.0},
      {"max_in_flight", run.max_in_flight},
      {"errors", run.errors},
      {"wrong", run.wrong},
      {"peak_rss_kb", peak_rss_kb()}, // after ~actor_system: the whole run's high-water mark
      {"ok", ok},
  });
  if (!run.failure.empty())
    bench_failed("fanout-raw", run.failure);
  return print_report(report, ok);
}

} // namespace actorflow::tools
