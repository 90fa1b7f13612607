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

std::string SimProcess::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port) + "/v1";
}

nlohmann::json SimProcess::stats() const {
  auto body = tools::sim_stats(port);
  if (!body)
    throw std::runtime_error(body.error().message);
  auto stats = nlohmann::json::parse(*body, nullptr, false);
  if (stats.is_discarded())
    throw std::runtime_error("GET /stats: not JSON: " + *body);
  return stats;
}

} // namespace actorflow::test
