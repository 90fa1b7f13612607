#pragma once
// Counts the model calls of one run. Shared by every actor of the run and by its RunHandle;
// updated from provider threads as calls end. The totals are atomic; the breakdown per
// (provider, model) key takes a short lock, once per call.

#include <actorflow/llm.hpp>
#include <actorflow/result.hpp>
#include <actorflow/run_result.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace actorflow::detail {

class RunMeter {
public:
  void call_ended(std::string_view provider, std::string_view model, const Usage& usage,
                  const std::optional<Error>& error, double cost, bool priced, bool batched) {
    calls_.fetch_add(1, std::memory_order_relaxed);
    if (error)
      failed_.fetch_add(1, std::memory_order_relaxed);
    if (error && error->code == Errc::rate_limited)
      rate_limited_.fetch_add(1, std::memory_order_relaxed);
    prompt_.fetch_add(usage.prompt_tokens, std::memory_order_relaxed);
    completion_.fetch_add(usage.completion_tokens, std::memory_order_relaxed);
    std::string key(provider);
    key.append("/").append(model);
    std::lock_guard lock(mutex_);
    cost_ += cost;
    ModelUsage& of = by_model_[std::move(key)];
    ++of.calls;
    of.failed_calls += error ? 1 : 0;
    of.prompt_tokens += usage.prompt_tokens;
    of.cached_tokens += usage.cached_tokens;
    of.completion_tokens += usage.completion_tokens;
    of.cost += cost;
    of.priced = of.priced || priced;
    of.batched_calls += batched ? 1 : 0;
  }
  void call_refused() noexcept { refused_.fetch_add(1, std::memory_order_relaxed); }
  void fell_back() noexcept { fallbacks_.fetch_add(1, std::memory_order_relaxed); }
  /// Adds calls counted elsewhere (an item's calls on a cluster node).
  void add(const RunUsage& u) {
    calls_.fetch_add(u.calls, std::memory_order_relaxed);
    failed_.fetch_add(u.failed_calls, std::memory_order_relaxed);
    rate_limited_.fetch_add(u.rate_limited, std::memory_order_relaxed);
    prompt_.fetch_add(u.prompt_tokens, std::memory_order_relaxed);
    completion_.fetch_add(u.completion_tokens, std::memory_order_relaxed);
    refused_.fetch_add(u.refused, std::memory_order_relaxed);
    fallbacks_.fetch_add(u.fallbacks, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    cost_ += u.cost;
    for (const auto& [key, theirs] : u.by_model) {
      ModelUsage& of = by_model_[key];
      of.calls += theirs.calls;
      of.failed_calls += theirs.failed_calls;
      of.prompt_tokens += theirs.prompt_tokens;
      of.cached_tokens += theirs.cached_tokens;
      of.completion_tokens += theirs.completion_tokens;
      of.cost += theirs.cost;
      of.priced = of.priced || theirs.priced;
      of.batched_calls += theirs.batched_calls;
    }
  }

  /// What the calls so far cost (US dollars): snapshot().cost without copying the rest.
  [[nodiscard]] double cost() const {
    std::lock_guard lock{mutex_};
    return cost_;
  }
  [[nodiscard]] RunUsage snapshot() const {
    RunUsage u;
    u.calls = calls_.load(std::memory_order_relaxed);
    u.failed_calls = failed_.load(std::memory_order_relaxed);
    u.rate_limited = rate_limited_.load(std::memory_order_relaxed);
    u.prompt_tokens = prompt_.load(std::memory_order_relaxed);
    u.completion_tokens = completion_.load(std::memory_order_relaxed);
    u.refused = refused_.load(std::memory_order_relaxed);
    u.fallbacks = fallbacks_.load(std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    u.cost = cost_;
    u.by_model = by_model_;
    return u;
  }

private:
  std::atomic<std::uint64_t> calls_{0}, failed_{0}, rate_limited_{0}, prompt_{0}, completion_{0},
      refused_{0}, fallbacks_{0};
  mutable std::mutex mutex_;
  double cost_ = 0;                            // guarded by mutex_
  std::map<std::string, ModelUsage> by_model_; // guarded by mutex_
};

} // namespace actorflow::detail
