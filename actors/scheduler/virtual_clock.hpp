#pragma once
// The CAF clock behind testing::VirtualClock: CAF's test clock (time moves only when told)
// made thread-safe, since the runtime's worker threads set timers while a test advances time.

#include <caf/detail/test_actor_clock.hpp>

#include <condition_variable>
#include <functional>
#include <mutex>

namespace actorflow::detail {

class VirtualActorClock final : public caf::detail::test_actor_clock {
public:
  using Base = caf::detail::test_actor_clock;

  time_point now() const noexcept override {
    std::lock_guard lock{mutex_};
    return current_time;
  }

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            std::uint64_t id) override {
    changed([&] { Base::set_ordinary_timeout(t, self, type, id); });
  }
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         std::uint64_t id) override {
    changed([&] { Base::set_multi_timeout(t, self, type, id); });
  }
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    changed([&] { Base::set_request_timeout(t, self, id); });
  }
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    changed([&] { Base::cancel_ordinary_timeout(self, type); });
  }
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    changed([&] { Base::cancel_request_timeout(self, id); });
  }
  void cancel_timeouts(caf::abstract_actor* self) override {
    changed([&] { Base::cancel_timeouts(self); });
  }
  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    changed([&] { Base::schedule_message(t, std::move(receiver), std::move(content)); });
  }
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    changed([&] {
      Base::schedule_message(t, std::move(target), std::move(sender), std::move(content));
    });
  }
  void cancel_all() override {
    changed([&] { Base::cancel_all(); });
  }

  /// Runs `f` with the clock locked (for reads and for advancing).
  template <class F>
  auto locked(F&& f) const {
    std::lock_guard lock{mutex_};
    return f();
  }

  /// The scheduler tells how to see that no actor is running or runnable (empty: no system).
  void set_idle_probe(std::function<bool()> probe) {
    std::lock_guard lock{mutex_};
    idle_probe_ = std::move(probe);
  }
  /// Called by the scheduler when it may have become idle. The lock orders this after a
  /// waiter's check of the probe, so the wake-up cannot fall between its check and its wait.
  void poke() {
    { std::lock_guard lock{mutex_}; }
    changes_.notify_all();
  }
  /// Waits until the actor system is idle (bounded); true when it is.
  template <class Duration>
  bool wait_idle(Duration bound) const {
    return wait_until([&] { return !idle_probe_ || idle_probe_(); }, bound);
  }

  /// Waits until `pred()` holds (checked with the clock locked) or `bound` passes.
  template <class Pred, class Duration>
  bool wait_until(Pred pred, Duration bound) const {
    std::unique_lock lock{mutex_};
    return changes_.wait_for(lock, bound, pred);
  }

private:
  template <class F>
  void changed(F&& f) {
    {
      std::lock_guard lock{mutex_};
      f();
    }
    changes_.notify_all();
  }

  // Recursive: advancing time runs CAF's dispatch, which calls now() on this clock.
  mutable std::recursive_mutex mutex_;
  mutable std::condition_variable_any changes_;
  std::function<bool()> idle_probe_;
};

} // namespace actorflow::detail
