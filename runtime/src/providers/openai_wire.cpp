#include "providers/openai_wire.hpp"

#include "providers/wire_json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace actorflow::wire {

using json = nlohmann::json;

std::optional<std::string_view> header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (key == name)
      return std::string_view(value);
  return std::nullopt;
}

// -- embeddings ---------------------------------------------------------------------------------

std::string encode_embed_request(const EmbedRequest& request, std::string_view model) {
  json body = {{"model", request.model.empty() ? std::string(model) : request.model},
               {"input", request.texts}};
  return to_wire(body);
}

Result<EmbedRequest> decode_embed_request(std::string_view body) {
  auto doc = parse(body, Errc::bad_request);
  if (!doc)
    return std::move(doc).error();
  EmbedRequest out;
  const json* input = member(*doc, "input");
  if (!input)
    return bad(Errc::bad_request, "input", "missing");
  if (input->is_string()) {
    out.texts.push_back(input->get<std::string>());
  } else if (input->is_array() && !input->empty()) {
    for (std::size_t i = 0; i < input->size(); ++i) {
      if (!(*input)[i].is_string())
        return bad(Errc::bad_request, indexed("input", i), "expected a string");
      out.texts.push_back((*input)[i].get<std::string>());
    }
  } else {
    return bad(Errc::bad_request, "input", "expected a string or a non-empty array of strings");
  }
  if (const json* model = member(*doc, "model"); model && model->is_string())
    out.model = model->get<std::string>();
  return out;
}

std::string encode_embed_response(const Embeddings& embeddings) {
  json data = json::array();
  for (std::size_t i = 0; i < embeddings.vectors.size(); ++i)
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", embeddings.vectors[i]}});
  json body = {{"object", "list"},
               {"data", std::move(data)},
               {"model", embeddings.model},
               {"usage",
                {{"prompt_tokens", embeddings.usage.prompt_tokens},
                 {"total_tokens", embeddings.usage.total_tokens}}}};
  return to_wire(body);
}

Result<Embeddings> decode_embed_response(std::string_view body, std::size_t expected) {
  auto doc = parse(body, Errc::bad_response);
  if (!doc)
    return std::move(doc).error();
  const json* data = member(*doc, "data");
  if (!data)
    return bad(Errc::bad_response, "data", "missing");
  if (!data->is_array())
    return bad(Errc::bad_response, "data", "expected an array");
  if (data->size() != expected)
    return bad(Errc::bad_response, "data",
               "holds " + std::to_string(data->size()) + " embeddings for " +
                   std::to_string(expected) + " inputs");
  Embeddings out;
  out.vectors.resize(expected);
  std::vector<bool> seen(expected, false);
  for (std::size_t i = 0; i < data->size(); ++i) {
    const json& item = (*data)[i];
    auto where = indexed("data", i);
    const json* index = item.is_object() ? member(item, "index") : nullptr;
    // Servers answer in input order; `index` says so explicitly when present.
    std::size_t at = index && index->is_number_unsigned() ? index->get<std::size_t>() : i;
    if (at >= expected || seen[at])
      return bad(Errc::bad_response, field(where, "index"), "out of range or repeated");
    const json* vector = item.is_object() ? member(item, "embedding") : nullptr;
    if (!vector || !vector->is_array())
      return bad(Errc::bad_response, field(where, "embedding"), "expected an array of numbers");
    auto& v = out.vectors[at];
    v.reserve(vector->size());
    for (const auto& x : *vector) {
      if (!x.is_number())
        return bad(Errc::bad_response, field(where, "embedding"), "expected an array of numbers");
      const auto number = x.get<double>();
      if (std::abs(number) > static_cast<double>(std::numeric_limits<float>::max()))
        return bad(Errc::bad_response, field(where, "embedding"),
                   "a value beyond the range of float: " + x.dump());
      v.push_back(static_cast<float>(number));
    }
    seen[at] = true;
  }
  if (const json* model = member(*doc, "model"); model && model->is_string())
    out.model = model->get<std::string>();
  if (const json* usage = member(*doc, "usage"); usage && usage->is_object())
    out.usage = decode_usage(*usage);
  return out;
}

// -- errors and headers ---------------------------------------------------------------------

std::string encode_error(std::string_view message, std::string_view type, std::string_view code) {
  json error = {
      {"message", message}, {"type", type}, {"code", code.empty() ? json(nullptr) : json(code)}};
  return to_wire(json{{"error", std::move(error)}});
}

std::optional<std::string> decode_error_message(std::string_view body) {
  if (detail::json_too_deep(body))
    return std::nullopt;
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return std::nullopt;
  const json* error = member(doc, "error");
  if (error && error->is_object())
    if (const json* message = member(*error, "message"); message && message->is_string())
      return message->get<std::string>();
  if (error && error->is_string()) // some servers (vLLM, Ollama) send {"error": "text"}
    return error->get<std::string>();
  return std::nullopt;
}

RateLimitInfo parse_rate_limits(const Headers& headers) {
  RateLimitInfo out;
  auto count = [&](std::string_view name) -> std::optional<std::uint64_t> {
    auto v = header(headers, name);
    return v ? parse_count(*v) : std::nullopt;
  };
  auto duration = [&](std::string_view name) -> std::optional<std::chrono::milliseconds> {
    auto v = header(headers, name);
    return v ? parse_duration(*v) : std::nullopt;
  };
  out.limit_requests = count("x-ratelimit-limit-requests");
  out.remaining_requests = count("x-ratelimit-remaining-requests");
  out.reset_requests = duration("x-ratelimit-reset-requests");
  out.limit_tokens = count("x-ratelimit-limit-tokens");
  out.remaining_tokens = count("x-ratelimit-remaining-tokens");
  out.reset_tokens = duration("x-ratelimit-reset-tokens");
  return out;
}

std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return out;
}

void encode_rate_limits(const RateLimitInfo& info, Headers& out) {
  auto count = [&](const char* name, const std::optional<std::uint64_t>& v) {
    if (v)
      out.emplace_back(name, std::to_string(*v));
  };
  auto duration = [&](const char* name, const std::optional<std::chrono::milliseconds>& v) {
    if (v)
      out.emplace_back(name, format_duration(*v));
  };
  count("x-ratelimit-limit-requests", info.limit_requests);
  count("x-ratelimit-remaining-requests", info.remaining_requests);
  duration("x-ratelimit-reset-requests", info.reset_requests);
  count("x-ratelimit-limit-tokens", info.limit_tokens);
  count("x-ratelimit-remaining-tokens", info.remaining_tokens);
  duration("x-ratelimit-reset-tokens", info.reset_tokens);
}

void encode_retry_after(std::chrono::milliseconds wait, Headers& out) {
  out.emplace_back("retry-after-ms", std::to_string(wait.count()));
  out.emplace_back("retry-after", std::to_string((wait.count() + 999) / 1000));
}

namespace {

// A count of a wait: too many digits for 64 bits is a long wait, not none.
std::optional<std::uint64_t> parse_wait_count(std::string_view text) {
  if (auto n = parse_count(text))
    return n;
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
  return digits ? std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max())
                : std::nullopt;
}

} // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(const Headers& headers) {
  constexpr auto max_ms = static_cast<std::uint64_t>(max_server_wait.count());
  if (auto ms = header(headers, "retry-after-ms"))
    if (auto n = parse_wait_count(*ms))
      return std::chrono::milliseconds(std::min(*n, max_ms));
  if (auto s = header(headers, "retry-after"))
    if (auto n = parse_wait_count(*s))
      return std::chrono::milliseconds(std::min(*n, max_ms / 1000) * 1000);
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  constexpr auto max_ms = static_cast<double>(max_server_wait.count());
  double total_ms = 0;
  while (!text.empty()) {
    std::size_t n = 0;
    while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '.'))
      ++n;
    if (n == 0)
      return std::nullopt;
    double number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + n, number);
    if (ec == std::errc::result_out_of_range && end == text.data() + n) {
      // Too many digits for a double: a long wait (clamped below), or, all zeros before the
      // point, a vanishing one.
      const auto whole = text.substr(0, std::min(n, text.find('.')));
      number = whole.find_first_not_of('0') != std::string_view::npos ? max_ms : 0;
    } else if (ec != std::errc{} || end != text.data() + n) {
      return std::nullopt;
    }
    text.remove_prefix(n);
    double unit_ms = 0;
    if (text.starts_with("ms")) {
      unit_ms = 1;
      text.remove_prefix(2);
    } else if (text.starts_with("h")) {
      unit_ms = 3600e3;
      text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      unit_ms = 60e3;
      text.remove_prefix(1);
    } else if (text.starts_with("s")) {
      unit_ms = 1e3;
      text.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    // Clamped as it grows: a sum above max_server_wait is no longer exact, nor needed.
    total_ms = std::min(total_ms + number * unit_ms, max_ms);
  }
  // Rounded up to whole milliseconds, but not by a product's rounding error: "1.007s" is
  // 1007.0000000000001 ms in doubles, and must read as 1007, as format_duration wrote it.
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(total_ms * (1 - 1e-12))));
}

std::string format_duration(std::chrono::milliseconds duration) {
  auto ms = std::max<std::int64_t>(duration.count(), 0);
  if (ms < 1000)
    return std::to_string(ms) + "ms";
  std::string out;
  if (ms >= 3600'000) {
    out += std::to_string(ms / 3600'000) + "h";
    ms %= 3600'000;
  }
  if (!out.empty() || ms >= 60'000) {
    out += std::to_string(ms / 60'000) + "m";
    ms %= 60'000;
  }
  out += std::to_string(ms / 1000);
  if (auto frac = ms % 1000) {
    auto digits = std::to_string(1000 + frac).substr(1); // "005" for 5 ms
    while (digits.back() == '0')
      digits.pop_back();
    out.append(".").append(digits);
  }
  out += "s";
  return out;
}

} // namespace actorflow::wire
