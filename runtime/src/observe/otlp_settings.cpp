#include "observe/otlp_settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string_view>

namespace actorflow::detail {

namespace {

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return std::string(text);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/// W3C Baggage-style percent-decoding of a header value ("%20" -> ' ').
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

/// "k1=v1,k2=v2" into `headers` (entries already there win: the config's own).
Result<void> add_pairs(std::map<std::string, std::string>& headers, const std::string& list,
                       const char* variable) {
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto entry = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (trimmed(entry).empty())
      continue;
    const auto equals = entry.find('=');
    if (equals == std::string_view::npos || trimmed(entry.substr(0, equals)).empty())
      return Error{Errc::bad_input, std::string(variable) + ": an entry has no 'key=value' (" +
                                        std::to_string(entry.size()) + " characters)"};
    headers.emplace(trimmed(entry.substr(0, equals)),
                    percent_decoded(trimmed(entry.substr(equals + 1))));
  }
  return {};
}

bool is_http_url(const std::string& url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

} // namespace

EnvLookup process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value || !*value)
      return std::nullopt;
    return std::string(value);
  };
}

Result<std::optional<OtlpSettings>> resolve_otlp(OtlpConfig config, const EnvLookup& env) {
  std::string url;
  if (!config.endpoint.empty()) {
    if (!is_http_url(config.endpoint))
      return Error{Errc::bad_input,
                   "otlp.endpoint '" + config.endpoint + "' is not an http:// or https:// URL"};
    url = config.endpoint;
    while (url.ends_with('/'))
      url.pop_back();
    if (!url.ends_with("/v1/traces"))
      url += "/v1/traces";
  } else {
    // The environment's endpoint, unless the environment also turns the SDK or traces off.
    if (lower(env("OTEL_SDK_DISABLED").value_or("")) == "true" ||
        lower(env("OTEL_TRACES_EXPORTER").value_or("")) == "none")
      return std::optional<OtlpSettings>{};
    const char* variable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    if (auto traces = env(variable))
      url = *traces; // a signal's own endpoint is used as it is
    else if (auto base = env(variable = "OTEL_EXPORTER_OTLP_ENDPOINT")) {
      url = *base;
      while (url.ends_with('/'))
        url.pop_back();
      url += "/v1/traces";
    } else
      return std::optional<OtlpSettings>{};
    if (!is_http_url(url))
      return Error{Errc::bad_input, std::string(variable) + " '" + url +
                                        "' is not an http:// or https:// URL (OTLP/HTTP)"};
  }
  for (const char* variable : {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"})
    if (auto protocol = env(variable)) {
      if (*protocol != "http/json" && *protocol != "http/protobuf")
        return Error{Errc::bad_input, std::string(variable) + " '" + *protocol +
                                          "': actorflow exports OTLP over HTTP (http/json)"};
      break; // the signal's own setting wins
    }
  for (const char* variable : {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"})
    if (auto list = env(variable))
      if (auto added = add_pairs(config.headers, *list, variable); !added)
        return added.error();
  if (auto list = env("OTEL_RESOURCE_ATTRIBUTES"))
    if (auto added = add_pairs(config.resource, *list, "OTEL_RESOURCE_ATTRIBUTES"); !added)
      return added.error();
  std::vector<std::string> warnings;
  // As the SDKs do: OTEL_SERVICE_NAME over a service.name among the resource attributes.
  if (config.service_name.empty()) {
    const auto named = config.resource.find("service.name");
    config.service_name =
        env("OTEL_SERVICE_NAME")
            .value_or(named != config.resource.end() ? named->second : std::string("actorflow"));
  }
  if (config.timeout.count() <= 0) {
    config.timeout = std::chrono::milliseconds{10000};
    for (const char* variable : {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"})
      if (auto text = env(variable)) {
        long long ms = 0;
        const auto* end = text->data() + text->size();
        auto [ptr, ec] = std::from_chars(text->data(), end, ms);
        if (ec != std::errc{} || ptr != end || ms <= 0) {
          warnings.push_back(std::string(variable) + " '" + *text +
                             "' is not a number of milliseconds: the timeout stays 10 s");
          break;
        }
        config.timeout = std::chrono::milliseconds{ms};
        break;
      }
  }
  if (config.max_queue == 0 || config.max_batch == 0)
    return Error{Errc::bad_input, "otlp: max_queue and max_batch must be above 0"};
  if (config.delay.count() <= 0 || config.first_backoff.count() <= 0 ||
      config.shutdown_timeout.count() < 0)
    return Error{Errc::bad_input, "otlp: delay and first_backoff must be above 0, "
                                  "shutdown_timeout not below"};
  return std::optional<OtlpSettings>{
      OtlpSettings{std::move(config), std::move(url), std::move(warnings)}};
}

} // namespace actorflow::detail
