#include "core/interrupt_board.hpp"

#include <algorithm>
#include <utility>

namespace actorflow::detail {

namespace {

std::string not_pending(const Interrupt& interrupt) {
  switch (interrupt.status) {
    case InterruptStatus::answered:
      return "it was already answered";
    case InterruptStatus::defaulted:
      return "its timeout passed and it took its default answer";
    case InterruptStatus::expired:
      return "its timeout passed (it expired)";
    case InterruptStatus::cancelled:
      return "it was cancelled with its run";
    case InterruptStatus::pending:
      break;
  }
  return "it is pending";
}

} // namespace

InterruptBoard::InterruptBoard(std::string run_name, CheckpointStorePtr store, std::string run_id,
                               std::shared_ptr<EventHub> events)
    : run_name_(std::move(run_name)), store_(std::move(store)), run_id_(std::move(run_id)),
      events_(std::move(events)) {}

void InterruptBoard::restore(std::vector<Interrupt> recorded) {
  std::lock_guard lock{mutex_};
  for (auto& interrupt : recorded) {
    auto id = interrupt.id;
    entries_[id] = Entry{std::move(interrupt), {}, false, next_order_++};
  }
}

Result<void> InterruptBoard::record(const Interrupt& interrupt) {
  if (!store_)
    return {};
  if (auto saved = store_->save_interrupt(run_id_, interrupt); !saved)
    return Error{saved.error().code,
                 "checkpoint of interrupt '" + interrupt.id + "': " + saved.error().message};
  return {};
}

void InterruptBoard::report(Interrupt interrupt) {
  if (!events_)
    return;
  auto node = interrupt.node;
  auto item = interrupt.item;
  events_->emit(std::move(node), item, InterruptEvent{std::move(interrupt), run_name_});
}

std::optional<Value> InterruptBoard::stored_answer(const std::string& id) const {
  auto recorded = store_->load_interrupts(run_id_);
  if (!recorded)
    return std::nullopt;
  for (auto& interrupt : *recorded)
    if (interrupt.id == id && (interrupt.status == InterruptStatus::answered ||
                               interrupt.status == InterruptStatus::defaulted))
      return std::move(interrupt.answer);
  return std::nullopt;
}

std::optional<Result<Value>> InterruptBoard::raise(Interrupt raised, Deliver deliver) {
  std::unique_lock lock{mutex_};
  if (closed_)
    return Result<Value>(
        Error{Errc::cancelled, "interrupt at node '" + raised.node + "': its run has ended"});
  auto it = entries_.find(raised.id);
  if (it != entries_.end()) {
    auto& entry = it->second;
    auto& known = entry.interrupt;
    switch (known.status) {
      case InterruptStatus::answered:
      case InterruptStatus::defaulted:
        return Result<Value>(known.answer); // a replay: the answer it had
      case InterruptStatus::expired:
      case InterruptStatus::cancelled:
        if (entry.raised) // settled in this run: a retry sees the same outcome
          return Result<Value>(
              Error{known.status == InterruptStatus::expired ? Errc::timeout : Errc::cancelled,
                    "interrupt '" + known.id + "': " + not_pending(known)});
        known.status = InterruptStatus::pending; // recorded by an earlier run: ask again
        known.answer = Value{};
        break;
      case InterruptStatus::pending:
        break;
    }
    entry.deliver = std::move(deliver);
    if (entry.raised)
      return std::nullopt; // raised again (a retry): it waits for the same answer
    entry.raised = true;
    // Recorded by an earlier run: it may have been answered in the store since this run
    // loaded it (another process, or Runtime::answer while the resume started).
    if (store_)
      if (auto answer = stored_answer(known.id)) {
        known.status = InterruptStatus::answered;
        known.answer = *answer;
        entry.deliver = nullptr;
        return Result<Value>(std::move(*answer));
      }
  } else {
    raised.status = InterruptStatus::pending;
    auto id = raised.id;
    it = entries_
             .emplace(std::move(id),
                      Entry{std::move(raised), std::move(deliver), true, next_order_++})
             .first;
  }
  if (auto recorded = record(it->second.interrupt); !recorded) {
    entries_.erase(it);
    return Result<Value>(recorded.error());
  }
  auto copy = it->second.interrupt;
  lock.unlock();
  report(std::move(copy));
  return std::nullopt;
}

Result<void> InterruptBoard::answer(std::string_view id, Value answer) {
  std::unique_lock lock{mutex_};
  auto it = entries_.find(std::string(id));
  if (it == entries_.end())
    return Error{Errc::bad_input,
                 "run '" + run_name_ + "' has no interrupt '" + std::string(id) + "'"};
  auto& entry = it->second;
  if (entry.interrupt.status != InterruptStatus::pending)
    return Error{Errc::bad_input, "interrupt '" + std::string(id) + "' of run '" + run_name_ +
                                      "' is not pending: " + not_pending(entry.interrupt)};
  if (store_)
    if (auto stored = store_->answer_interrupt(run_id_, id, answer); !stored)
      return stored.error();
  entry.interrupt.status = InterruptStatus::answered;
  entry.interrupt.answer = answer;
  auto deliver = std::exchange(entry.deliver, nullptr);
  auto copy = entry.interrupt;
  lock.unlock();
  report(std::move(copy));
  if (deliver)
    deliver(std::move(answer));
  return {};
}

void InterruptBoard::expire(std::string_view id, const InterruptOptions& options) {
  std::unique_lock lock{mutex_};
  auto it = entries_.find(std::string(id));
  if (it == entries_.end() || it->second.interrupt.status != InterruptStatus::pending)
    return; // answered in time
  auto& entry = it->second;
  auto& interrupt = entry.interrupt;
  Result<Value> outcome = Value{};
  if (options.default_answer) {
    interrupt.status = InterruptStatus::defaulted;
    interrupt.answer = *options.default_answer;
    outcome = *options.default_answer;
  } else {
    interrupt.status = InterruptStatus::expired;
    outcome = Error{Errc::timeout, "interrupt '" + interrupt.id + "' at node '" + interrupt.node +
                                       "': no answer within " +
                                       std::to_string(options.timeout.count()) + " ms"};
  }
  if (auto recorded = record(interrupt); !recorded && outcome.ok())
    outcome = recorded.error(); // the node must not go on with an answer a resume would lose
  auto deliver = std::exchange(entry.deliver, nullptr);
  auto copy = interrupt;
  lock.unlock();
  report(std::move(copy));
  if (deliver)
    deliver(std::move(outcome));
}

std::size_t InterruptBoard::close(bool keep_recorded) {
  std::vector<Interrupt> cancelled;
  std::size_t kept = 0;
  {
    std::lock_guard lock{mutex_};
    closed_ = true;
    for (auto& [id, entry] : entries_) {
      if (entry.interrupt.status != InterruptStatus::pending)
        continue;
      entry.deliver = nullptr;              // its actor has stopped
      if (keep_recorded || !entry.raised) { // a restored one this run never reached stays
        ++kept;
        continue;
      }
      entry.interrupt.status = InterruptStatus::cancelled;
      (void)record(entry.interrupt); // the run's end is recorded anyway; a resume asks again
      cancelled.push_back(entry.interrupt);
    }
  }
  const auto count = cancelled.size() + kept;
  // Reported outside the lock: a host callback may call back into the board.
  for (auto& interrupt : cancelled)
    report(std::move(interrupt));
  return count;
}

std::vector<Interrupt> InterruptBoard::pending() const {
  std::vector<std::pair<std::uint64_t, Interrupt>> found;
  {
    std::lock_guard lock{mutex_};
    for (const auto& [id, entry] : entries_)
      if (entry.interrupt.status == InterruptStatus::pending)
        found.emplace_back(entry.order, entry.interrupt);
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Interrupt> out;
  out.reserve(found.size());
  for (auto& [order, interrupt] : found)
    out.push_back(std::move(interrupt));
  return out;
}

} // namespace actorflow::detail
