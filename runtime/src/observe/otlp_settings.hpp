#pragma once
// An OtlpConfig completed from the standard environment variables (OTEL_EXPORTER_OTLP_*,
// OTEL_SERVICE_NAME, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER), as OpenTelemetry's SDKs read
// them, so that a host configures actorflow's export the way it configures everything else.

#include <actorflow/otlp.hpp>
#include <actorflow/result.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace actorflow::detail {

/// What the exporter runs with: `url` is the full traces URL.
struct OtlpSettings {
  OtlpConfig config;
  std::string url;
  /// Settings of the environment that were ignored, and why (the Runtime logs them).
  std::vector<std::string> warnings{};
};

/// Reads an environment variable (none: not set); `std::getenv` in a Runtime, a map in tests.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;
[[nodiscard]] EnvLookup process_environment();

/// The settings of `config` under `env`; none when there is no endpoint (export is off).
/// Errors: bad_input naming the setting (an endpoint that is not http(s)://, a header without
/// '=', a protocol other than http/json or http/protobuf, a delay that is not above 0). An
/// environment timeout that is not a number is a warning: the default stands.
[[nodiscard]] Result<std::optional<OtlpSettings>> resolve_otlp(OtlpConfig config,
                                                               const EnvLookup& env);

} // namespace actorflow::detail
