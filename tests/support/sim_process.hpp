#pragma once
// `actorflow sim` as a child process of a test (see tools/subprocess.hpp for the process part).

#include <actorflow/openai.hpp>

#include "subprocess.hpp" // tools/

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace actorflow::test {

using tools::Subprocess;

/// `actorflow sim --port 0 <extra_args>`, started and listening. Throws std::runtime_error
/// (with the reason) when the sim cannot start or does not print its port within 10 s.
class SimProcess {
public:
#ifdef ACTORFLOW_CLI
  /// The sim of the actorflow binary the tests were built with.
  explicit SimProcess(std::vector<std::string> extra_args = {})
      : SimProcess(ACTORFLOW_CLI, std::move(extra_args)) {}
#endif
  SimProcess(const std::string& program, std::vector<std::string> extra_args);

  std::uint16_t port = 0;
  /// "http://127.0.0.1:PORT/v1", what an OpenAI client takes as its base URL.
  [[nodiscard]] std::string base_url() const { return child_.base_url(); }
  /// GET /stats, parsed. Throws std::runtime_error if the sim does not answer.
  [[nodiscard]] nlohmann::json stats() const;
  [[nodiscard]] Subprocess& process() noexcept { return child_.process; }

private:
  explicit SimProcess(tools::SimChild child) : port(child.port), child_(std::move(child)) {}
  tools::SimChild child_;
};

/// An openai provider's config for `sim`: model "local" (chat and embeddings), 10 s timeout.
[[nodiscard]] inline OpenAiConfig sim_config(const SimProcess& sim) {
  OpenAiConfig config;
  config.base_url = sim.base_url();
  config.model = "local";
  config.embedding_model = "local";
  config.timeout = std::chrono::seconds(10);
  return config;
}

} // namespace actorflow::test
