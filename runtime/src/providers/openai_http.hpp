#pragma once
// What the OpenAI providers (online and batch) share about HTTP: the config check, the
// headers of every request, typed errors for an answer other than 200 and for a transport
// failure, and scrubbing the API key from error text. Internal.

#include <actorflow/openai.hpp>
#include <actorflow/result.hpp>

#include "providers/http_client.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow::openai_http {

/// `text` with every occurrence of `secret` replaced by "[redacted]".
[[nodiscard]] std::string scrub(std::string text, const std::string& secret);
/// Why `config` cannot work, if it cannot.
[[nodiscard]] std::optional<Error> check(const OpenAiConfig& config);
[[nodiscard]] OpenAiConfig without_trailing_slash(OpenAiConfig config);
/// The headers of every request, built once per provider: the key, the config's own, and a
/// JSON Content-Type when every body is JSON.
[[nodiscard]] std::vector<std::string> request_headers(const OpenAiConfig& config, bool json_body);
/// The typed error of an HTTP answer other than 200: 429 rate_limited (with Retry-After),
/// 408 timeout, 5xx server_error, else bad_request; `where` names the request.
[[nodiscard]] Error http_error(const http::Response& r, const std::string& where);
[[nodiscard]] Error transport_error(const http::Response& r, const std::string& where);

} // namespace actorflow::openai_http
