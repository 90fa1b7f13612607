#pragma once
// The sim's faults and latency distributions, as the command line spells them.

#include <actorflow/result.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::tools::sim {

// Both enums below are spelled on the command line as their names, in declaration order.
// bad_tool_args and bad_json spoil a chat answer's content, not its envelope: tool calls with
// arguments that are not JSON, a message content cut in half (invalid JSON for a structured
// output). rate_limited is a 429 the sim's own limits did not cause (another user of the key,
// a provider's overload), with a short Retry-After.
enum class Fault : std::uint8_t {
  server_error,
  drop,
  malformed,
  missing,
  slow,
  bad_tool_args,
  bad_json,
  rate_limited
};
constexpr std::array<std::string_view, 8> fault_names{
    "500", "drop", "malformed", "missing", "slow", "bad_tool_args", "bad_json", "429"};
/// The Retry-After of a rate_limited fault.
constexpr std::chrono::milliseconds fault_retry_after{100};
enum class LatencyDistribution : std::uint8_t { fixed, uniform, normal, exponential };
constexpr std::array<std::string_view, 4> distribution_names{"fixed", "uniform", "normal",
                                                             "exponential"};

template <class Enum, std::size_t n>
std::optional<Enum> parse_name(const std::array<std::string_view, n>& names,
                               std::string_view name) {
  auto found = std::find(names.begin(), names.end(), name);
  if (found == names.end())
    return std::nullopt;
  return static_cast<Enum>(found - names.begin());
}

template <std::size_t n>
std::string join(const std::array<std::string_view, n>& names) {
  std::string out;
  for (auto name : names)
    out.append(out.empty() ? "" : ", ").append(name);
  return out;
}

/// "500,drop" as faults; an error names an unknown kind and the known ones.
Result<std::vector<Fault>> parse_fault_list(std::string_view list);

} // namespace actorflow::tools::sim
