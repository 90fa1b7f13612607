// What the OpenAI providers share about HTTP (see providers/openai_http.hpp).

#include "providers/openai_http.hpp"

#include "providers/openai_wire.hpp"

namespace actorflow::openai_http {

/// `text` with every occurrence of `secret` replaced: some servers echo the key they were sent
/// ("Incorrect API key provided: sk-..."), and error text ends up in logs and traces.
std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty())
    return text;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "[redacted]");
  return text;
}

/// Why `config` cannot work, if it cannot.
std::optional<Error> check(const OpenAiConfig& config) {
  const auto& url = config.base_url;
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return Error{Errc::bad_input, "openai provider: base_url must start with http:// or https://, "
                                  "got '" +
                                      url + "'"};
  if (config.model.empty())
    return Error{Errc::bad_input, "openai provider: no model configured"};
  return std::nullopt;
}

/// The typed error for an HTTP answer other than 200.
Error http_error(const http::Response& r, const std::string& where) {
  auto detail = wire::decode_error_message(r.body);
  std::string text = where;
  text.append(": HTTP ").append(std::to_string(r.status));
  if (detail)
    text.append(": ").append(*detail);
  else if (!r.body.empty())
    text.append(": ").append(r.body.substr(0, 200));
  if (r.status == 429)
    return Error{Errc::rate_limited, std::move(text), wire::parse_retry_after(r.headers)};
  if (r.status == 408)
    return Error{Errc::timeout, std::move(text)};
  if (r.status >= 500)
    return Error{Errc::server_error, std::move(text), wire::parse_retry_after(r.headers)};
  return Error{Errc::bad_request, std::move(text)};
}

Error transport_error(const http::Response& r, const std::string& where) {
  std::string text = where + ": " + r.transport_error;
  switch (r.transport) {
    case http::Transport::timed_out:
      return Error{Errc::timeout, std::move(text)};
    case http::Transport::cancelled:
      return Error{Errc::cancelled, std::move(text)};
    default:
      return Error{Errc::connection_failed, std::move(text)};
  }
}

OpenAiConfig without_trailing_slash(OpenAiConfig config) {
  while (config.base_url.ends_with('/'))
    config.base_url.pop_back();
  return config;
}

std::vector<std::string> request_headers(const OpenAiConfig& config, bool json_body) {
  std::vector<std::string> headers;
  if (json_body)
    headers.emplace_back("Content-Type: application/json");
  if (!config.api_key.empty())
    headers.push_back("Authorization: Bearer " + config.api_key);
  for (const auto& [name, value] : config.headers)
    headers.push_back(name + ": " + value);
  return headers;
}

} // namespace actorflow::openai_http
