#pragma once
// The CAF clock behind testing::VirtualClock: CAF's test clock (time moves only when told)
// made thread-safe, since the runtime's worker threads set timers while a test advances time.

#include <caf/detail/test_actor_clock.hpp>

#include <condition_variable>
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
  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override {
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
  template <class F>
  auto locked(F&& f) {
    std::lock_guard lock{mutex_};
    return f();
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

  mutable std::mutex mutex_;
  mutable std::condition_variable changes_;
};

} // namespace actorflow::detail
