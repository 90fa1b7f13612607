#pragma once
/// Tools for testing flows without waiting on real time: a virtual clock the Runtime can run
/// on, and a scripted fake model that fails, stalls or answers as told.
///
/// With `RuntimeConfig::clock` set to a VirtualClock, every timer of the runtime (`ctx.sleep`,
/// retry backoffs, attempt timeouts, deadlines, ask timeouts) waits on that clock, which moves
/// only when the test calls `advance`. Typical loop:
///
///     auto clock = std::make_shared<testing::VirtualClock>();
///     Runtime rt{RuntimeConfig{.clock = clock}};
///     auto run = rt.run(flow, state);
///     REQUIRE(clock->wait_for_pending(1));   // the first backoff timer is set
///     CHECK(*clock->next_due() == 100ms);     // ... for the expected delay
///     clock->advance_to_next();               // and fires it

#include <actorflow/context.hpp>
#include <actorflow/result.hpp>
#include <actorflow/task.hpp>
#include <actorflow/value.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

namespace actorflow {
namespace detail {
class VirtualActorClock;
struct RuntimeImpl;
} // namespace detail

namespace testing {

/// Time that moves only when told. Thread-safe. Share it with at most one Runtime at a time.
class VirtualClock {
public:
  VirtualClock();
  ~VirtualClock();
  VirtualClock(const VirtualClock&) = delete;
  VirtualClock& operator=(const VirtualClock&) = delete;

  /// Virtual time passed since the clock was made.
  [[nodiscard]] std::chrono::nanoseconds elapsed() const;
  /// Timers waiting to fire (delayed messages and timeouts).
  [[nodiscard]] std::size_t pending() const;
  /// When the earliest pending timer fires, as time since the clock was made.
  [[nodiscard]] std::optional<std::chrono::nanoseconds> next_due() const;
  /// Moves time forward by `delta`, firing every timer that becomes due. Returns how many fired.
  std::size_t advance(std::chrono::nanoseconds delta);
  /// Waits until the runtime is idle (no actor running or runnable), at most `bound` in real
  /// time: then nothing can set a timer before time moves on. True when idle.
  bool wait_until_idle(std::chrono::milliseconds bound = std::chrono::seconds(10)) const;
  /// Waits until the runtime is idle, then moves time to the earliest pending timer and fires
  /// it (with any due at the same time). Returns the step taken, or nothing when no timer is
  /// pending.
  std::optional<std::chrono::nanoseconds> advance_to_next();
  /// Blocks (in real time, at most `bound`) until at least `count` timers are pending: the way
  /// to wait for the runtime to reach its next timer without sleeping. True when reached.
  bool wait_for_pending(std::size_t count,
                        std::chrono::milliseconds bound = std::chrono::seconds(10)) const;

private:
  friend struct detail::RuntimeImpl; // runs the actor system on actor_clock()
  detail::VirtualActorClock& actor_clock() noexcept { return *clock_; }

  std::unique_ptr<detail::VirtualActorClock> clock_;
  std::chrono::steady_clock::time_point origin_; // the clock's time when made
};

/// What a ScriptedModel does on one call.
struct ModelStep {
  enum class Kind : std::uint8_t { reply, fail, hang };
  Kind kind = Kind::reply;
  std::chrono::milliseconds latency{0}; ///< waited (on the runtime's clock) before answering
  Value reply;                          ///< for reply
  Error error;                          ///< for fail (its retry_after is passed on)

  static ModelStep answer(Value value, std::chrono::milliseconds latency = {});
  /// A 429: `rate_limited` with the server's Retry-After.
  static ModelStep rate_limited(std::chrono::milliseconds retry_after,
                                std::chrono::milliseconds latency = {});
  /// A 5xx: `server_error`.
  static ModelStep server_error(std::chrono::milliseconds latency = {});
  /// A failure with any error.
  static ModelStep failure(Error error, std::chrono::milliseconds latency = {});
  /// Never answers (until the caller gives up: attempt timeout, cancel, deadline).
  static ModelStep hang();
};

/// A fake model client that plays a script, one step per call, in call order; after the
/// script it repeats its last step. Shared by every node that holds it (thread-safe), and it
/// counts calls, so tests can check how often the model was really called.
class ScriptedModel {
public:
  explicit ScriptedModel(std::deque<ModelStep> script);

  /// One call from inside exec: waits the step's latency on the runtime's clock, then answers
  /// with its reply or fails with its error. A `hang` step suspends forever.
  Task<Result<Value>> call(Context& ctx);

  [[nodiscard]] std::size_t calls() const;

private:
  ModelStep next_step();

  mutable std::mutex mutex_;
  std::deque<ModelStep> script_; // guarded by mutex_
  std::size_t calls_ = 0;        // guarded by mutex_
};

/// Ends the actor running this exec with CAF's `kill` exit reason, as if it had crashed: the
/// supervisor sees a dead child (not an error reply). Await it; it never resumes.
detail::SleepAwaiter crash_this_actor(Context& ctx);

} // namespace testing
} // namespace actorflow
