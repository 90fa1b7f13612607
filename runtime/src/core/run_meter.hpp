#pragma once
// Counts the model calls of one run. Shared by every actor of the run and by its RunHandle;
// updated from provider threads as calls end, so every counter is atomic.

#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>

#include <atomic>
#include <cstdint>
#include <optional>

namespace actorflow::detail {

class RunMeter {
public:
  void call_ended(const Usage& usage, const std::optional<Error>& error) noexcept {
    calls_.fetch_add(1, std::memory_order_relaxed);
    if (error)
      failed_.fetch_add(1, std::memory_order_relaxed);
    if (error && error->code == Errc::rate_limited)
      rate_limited_.fetch_add(1, std::memory_order_relaxed);
    prompt_.fetch_add(usage.prompt_tokens, std::memory_order_relaxed);
    completion_.fetch_add(usage.completion_tokens, std::memory_order_relaxed);
  }
  void call_refused() noexcept { refused_.fetch_add(1, std::memory_order_relaxed); }
  /// Adds calls counted elsewhere (an item's calls on a cluster node).
  void add(const RunUsage& u) noexcept {
    calls_.fetch_add(u.calls, std::memory_order_relaxed);
    failed_.fetch_add(u.failed_calls, std::memory_order_relaxed);
    rate_limited_.fetch_add(u.rate_limited, std::memory_order_relaxed);
    prompt_.fetch_add(u.prompt_tokens, std::memory_order_relaxed);
    completion_.fetch_add(u.completion_tokens, std::memory_order_relaxed);
    refused_.fetch_add(u.refused, std::memory_order_relaxed);
  }

  [[nodiscard]] RunUsage snapshot() const noexcept {
    RunUsage u;
    u.calls = calls_.load(std::memory_order_relaxed);
    u.failed_calls = failed_.load(std::memory_order_relaxed);
    u.rate_limited = rate_limited_.load(std::memory_order_relaxed);
    u.prompt_tokens = prompt_.load(std::memory_order_relaxed);
    u.completion_tokens = completion_.load(std::memory_order_relaxed);
    u.refused = refused_.load(std::memory_order_relaxed);
    return u;
  }

private:
  std::atomic<std::uint64_t> calls_{0}, failed_{0}, rate_limited_{0}, prompt_{0}, completion_{0},
      refused_{0};
};

} // namespace actorflow::detail
