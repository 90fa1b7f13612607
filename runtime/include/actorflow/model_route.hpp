#pragma once
/// Model fallbacks: a route for a model name, tried in order (the primary, then fallbacks),
/// each target a (provider, model) key with its own limits (`RuntimeConfig::limits`).
///
///     config.models.route("gpt-4o", ModelRoute{.targets = {{"openai", "gpt-4o"},
///                                                          {"azure", "gpt-4o"},
///                                                          {"local", "local"}}});
///
/// A call asking for the routed model (`ChatRequest::model`, or the provider's default model)
/// goes to the first target not cooling down. Within a target, a 5xx, a timeout or a lost
/// connection is retried `retries` times (after `retry_backoff`, doubling), and a 429 whose
/// Retry-After is at most `max_retry_wait` is waited out. The call moves to the next target on
/// what retrying that one cannot cure: the context length exceeded, a content policy refusal,
/// a 5xx (timeout, lost connection) after its retries, a 429 asking for a longer wait. Other
/// errors (a bad request of ours, a spent budget, a cancel) end the call as they are.
///
/// A target that failed `cooldown_after` calls in a row cools down for `cooldown` (on the
/// runtime's clock): every run skips it until then, unless no other target is left. Each move
/// is an `AttemptEvent` of kind `model_fallback` (with the error and both keys) and counts in
/// `RunUsage::fallbacks` and the run report (LiteLLM's router is the model: retries within a
/// deployment, fallbacks across, cooldowns per deployment).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace actorflow {

struct RouteTarget {
  std::string provider; ///< a name in the ModelRegistry
  std::string model;    ///< empty: the provider's default model
  friend bool operator==(const RouteTarget&, const RouteTarget&) = default;
};

struct ModelRoute {
  /// The primary first, then the fallbacks in order.
  std::vector<RouteTarget> targets{};
  /// Retries of a 5xx, timeout or lost connection on the same target before moving on.
  std::uint32_t retries = 1;
  std::chrono::milliseconds retry_backoff{500};
  /// A 429 asking to wait at most this long is waited out on the same target (once).
  std::chrono::milliseconds max_retry_wait{std::chrono::seconds(10)};
  /// Calls in a row a target must fail (move away from) before it cools down; 0: never.
  std::uint32_t cooldown_after = 3;
  std::chrono::milliseconds cooldown{std::chrono::seconds(60)};
};

} // namespace actorflow
