#include "support/sim_process.hpp"

#include <stdexcept>

namespace actorflow::test {

namespace {

tools::SimChild start_sim(const std::string& program, std::vector<std::string> extra_args) {
  auto child = tools::SimChild::start(program, std::move(extra_args));
  if (!child)
    throw std::runtime_error(child.error().message);
  return std::move(child).value();
}

} // namespace

SimProcess::SimProcess(const std::string& program, std::vector<std::string> extra_args)
    : SimProcess(start_sim(program, std::move(extra_args))) {}

nlohmann::json SimProcess::stats() const {
  auto stats = child_.stats();
  if (!stats)
    throw std::runtime_error(stats.error().message);
  return *stats;
}

} // namespace actorflow::test
