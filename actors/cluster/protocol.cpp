#include "actors/cluster/protocol.hpp"

#include <utility>

namespace actorflow::actors {

std::size_t default_capacity(std::size_t workers) {
  return 64 * workers; // what ClusterConfig::local_capacity and ServeOptions::capacity say
}

void CallLog::add(const ModelCallEvent& event) {
  std::lock_guard guard{mutex_};
  if (events_.size() < max_kept)
    events_.push_back(event);
}

std::vector<ModelCallEvent> CallLog::take() {
  std::lock_guard guard{mutex_};
  return std::exchange(events_, {});
}

} // namespace actorflow::actors
