// Rate-limit and Retry-After headers: every wait a server gives is within [0, a day], and a
// reset duration that parses formats and parses back to itself. The input is "name: value"
// lines.
#include "fuzz_support.hpp"
#include "providers/openai_wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace actorflow;
  using std::chrono::milliseconds;
  auto rest = fuzz::text(data, size);
  wire::Headers headers;
  while (!rest.empty()) {
    auto end = rest.find('\n');
    auto line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  auto within = [](const std::optional<milliseconds>& wait) {
    return !wait || (*wait >= milliseconds(0) && *wait <= wire::max_server_wait);
  };
  const auto limits = wire::parse_rate_limits(headers);
  FUZZ_REQUIRE(within(limits.reset_requests));
  FUZZ_REQUIRE(within(limits.reset_tokens));
  FUZZ_REQUIRE(within(wire::parse_retry_after(headers)));
  for (const auto& [name, value] : headers) {
    auto duration = wire::parse_duration(value);
    FUZZ_REQUIRE(within(duration));
    if (duration)
      FUZZ_REQUIRE(wire::parse_duration(wire::format_duration(*duration)) == duration);
  }
  return 0;
}
