#pragma once
// A run's interrupts: which wait for an answer, who waits for each, and what was answered, so
// that an answer reaches its interrupt once, also when the node raises it again (a retry, a
// resumed run replaying its exec). Written from actor threads (raise, expire) and host threads
// (answer, pending); every member takes the board's lock. A durable run's board records each
// change in the checkpoint store before it takes effect.

#include <actorflow/checkpoint.hpp>
#include <actorflow/interrupt.hpp>
#include <actorflow/result.hpp>

#include "core/event_hub.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actorflow::detail {

class InterruptBoard {
public:
  using Deliver = std::function<void(Result<Value>)>;

  /// `store` and `run_id` when the run is durable; `events` gets every raise and settlement.
  InterruptBoard(std::string run_name, CheckpointStorePtr store, std::string run_id,
                 std::shared_ptr<EventHub> events);

  /// A resumed run's interrupts as recorded: answered and defaulted ones answer their
  /// interrupt when it is raised again; the others are asked again.
  void restore(std::vector<Interrupt> recorded);

  /// The exec raised `raised` (pending, no answer). Yields its outcome at once when it has
  /// one (raised before, and settled); otherwise `deliver` will get it, once, from whichever
  /// thread settles it, and the interrupt is reported (and recorded) as pending.
  [[nodiscard]] std::optional<Result<Value>> raise(Interrupt raised, Deliver deliver);
  /// The host's answer. Errors (bad_input): no such interrupt; one that is not pending.
  [[nodiscard]] Result<void> answer(std::string_view id, Value answer);
  /// Its timeout passed: it takes `default_answer`, or fails with timeout.
  void expire(std::string_view id, const InterruptOptions& options);
  /// The run ended without them: every pending interrupt it raised is cancelled (recorded as
  /// such unless `keep_recorded`: a Runtime shutting down leaves them pending in the store, to
  /// be answered and resumed later), and nothing more is raised. Returns how many were
  /// pending.
  std::size_t close(bool keep_recorded);

  /// The interrupts waiting now, in the order raised.
  [[nodiscard]] std::vector<Interrupt> pending() const;

private:
  struct Entry {
    Interrupt interrupt;
    Deliver deliver;     // the exec waiting for it now; empty when none does
    bool raised = false; // raised in this run (a restored one waits to be raised again)
    std::uint64_t order = 0;
  };

  // The answer the store holds for interrupt `id` of a durable run, if any.
  [[nodiscard]] std::optional<Value> stored_answer(const std::string& id) const;
  // Records `interrupt` in the store of a durable run.
  [[nodiscard]] Result<void> record(const Interrupt& interrupt);
  void report(Interrupt interrupt);

  const std::string run_name_; // for errors: the durable id, or the handle's id
  const CheckpointStorePtr store_;
  const std::string run_id_;
  const std::shared_ptr<EventHub> events_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t next_order_ = 0;
  bool closed_ = false; // the run has ended: nothing more is raised
};

} // namespace actorflow::detail
