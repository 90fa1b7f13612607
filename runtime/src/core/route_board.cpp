#include "core/route_board.hpp"

namespace actorflow::detail {

void RouteBoard::set(std::string model, ModelRoute route) {
  std::lock_guard lock(mutex_);
  routes_[std::move(model)] = std::move(route);
}

std::optional<ModelRoute> RouteBoard::find(std::string_view model) const {
  std::lock_guard lock(mutex_);
  auto it = routes_.find(model);
  if (it == routes_.end())
    return std::nullopt;
  return it->second;
}

std::vector<RouteTarget> RouteBoard::order(const ModelRoute& route, TimePoint now) const {
  std::vector<RouteTarget> ready, cooling_down;
  for (const RouteTarget& target : route.targets)
    (cooling(target, now) ? cooling_down : ready).push_back(target);
  ready.insert(ready.end(), cooling_down.begin(), cooling_down.end());
  return ready;
}

void RouteBoard::failed(const RouteTarget& target, const ModelRoute& route, TimePoint now) {
  std::lock_guard lock(mutex_);
  Health& health = health_[Key{target.provider, target.model}];
  if (route.cooldown_after == 0 || ++health.failures_in_a_row < route.cooldown_after)
    return;
  health.failures_in_a_row = 0;
  health.cool_until = now + route.cooldown;
}

void RouteBoard::succeeded(const RouteTarget& target) {
  std::lock_guard lock(mutex_);
  auto it = health_.find(Key{target.provider, target.model});
  if (it != health_.end())
    it->second.failures_in_a_row = 0;
}

bool RouteBoard::cooling(const RouteTarget& target, TimePoint now) const {
  std::lock_guard lock(mutex_);
  auto it = health_.find(Key{target.provider, target.model});
  return it != health_.end() && now < it->second.cool_until;
}

} // namespace actorflow::detail
