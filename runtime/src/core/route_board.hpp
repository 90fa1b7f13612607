#pragma once
// The model routes of a ModelRegistry and the health of their targets: which target a call
// tries first, and which ones cool down after failing calls in a row. Shared by every run of
// a Runtime (and every copy of its registry); thread-safe. Plain logic on times passed in, so
// cooldowns follow the runtime's clock (virtual in tests).

#include <actorflow/model_route.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow::detail {

class RouteBoard {
public:
  using TimePoint = std::chrono::steady_clock::time_point;

  void set(std::string model, ModelRoute route);
  /// The route of calls asking for `model`, if there is one.
  [[nodiscard]] std::optional<ModelRoute> find(std::string_view model) const;
  /// The targets in the order a call tries them at `now`: those not cooling down in route
  /// order, then those cooling down (a last resort rather than no answer).
  [[nodiscard]] std::vector<RouteTarget> order(const ModelRoute& route, TimePoint now) const;
  /// A call moved away from `target`: one more failure in a row; `route.cooldown_after` of
  /// them cool it down until now + route.cooldown.
  void failed(const RouteTarget& target, const ModelRoute& route, TimePoint now);
  /// A call succeeded on `target`: its failures in a row start again from 0.
  void succeeded(const RouteTarget& target);
  [[nodiscard]] bool cooling(const RouteTarget& target, TimePoint now) const;

private:
  struct Health {
    std::uint32_t failures_in_a_row = 0;
    TimePoint cool_until{};
  };
  using Key = std::pair<std::string, std::string>; // provider, model
  mutable std::mutex mutex_;
  std::map<std::string, ModelRoute, std::less<>> routes_; // guarded by mutex_
  std::map<Key, Health> health_;                          // guarded by mutex_
};

} // namespace actorflow::detail
