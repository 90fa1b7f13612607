#pragma once
/// Interrupts: a node stops to ask a person something and goes on with the answer.
///
/// ```cpp
/// auto answer = co_await ctx.interrupt(Value("Delete 3 files?"));
/// // host side, from the run's events or its handle:
/// for (auto& pending : run.interrupts())
///   run.answer(pending.id, Value("yes"));
/// ```
///
/// Only the node that asked waits: the rest of its run goes on (another batch item, a parallel
/// branch), and each interrupt is answered on its own, in any order.
///
/// Identity. An interrupt's id is a hash of where it was raised (the node's path with the step
/// of every enclosing flow, the batch item's index, the number of interrupts its exec raised
/// before it) and of its question. Re-running the same code to the same place with the same
/// question raises the same interrupt: that is how an answer finds its interrupt again after a
/// retry or a resume, and why a replay never asks twice.
///
/// Durable runs (a checkpoint store and a run id): every interrupt and its answer is recorded.
/// The process may exit while interrupts are pending; the answers can be given to the store
/// meanwhile (`Runtime::answer` with the run's id), and `Runtime::resume` runs the run again
/// from its last committed step: exec replays up to each interrupt, which returns its recorded
/// answer at once. Code before an interrupt must be safe to repeat.

#include <actorflow/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace actorflow {

/// How long an interrupt waits, and what it yields when nobody answered in time.
struct InterruptOptions {
  /// From when it is raised, on the runtime's clock; zero: it waits as long as the run lives.
  std::chrono::milliseconds timeout{0};
  /// Yielded when the timeout passes; without one, `interrupt` yields `Errc::timeout`.
  std::optional<Value> default_answer{};
};

enum class InterruptStatus : std::uint8_t {
  pending,   ///< waiting for an answer
  answered,  ///< answered by the host (or a stored answer given to the store)
  defaulted, ///< its timeout passed and it took its default answer
  expired,   ///< its timeout passed without a default: the node got `Errc::timeout`
  cancelled, ///< its run was cancelled while it waited
};

/// "pending", "answered", "defaulted", "expired", "cancelled".
[[nodiscard]] std::string_view to_string(InterruptStatus status) noexcept;

/// One interrupt of a run, as the host sees it (`RunHandle::interrupts`,
/// `Runtime::interrupts`, an interrupt event) and as a checkpoint store records it.
struct Interrupt {
  std::string id{};                ///< 32 hex digits; stable across retries and resumes
  std::string node{};              ///< the node's path, "outer/inner"
  std::optional<std::size_t> item; ///< the batch item's index (also inside its sub-flows)
  Value question{};
  InterruptStatus status = InterruptStatus::pending;
  Value answer{}; ///< once answered or defaulted
};

} // namespace actorflow
