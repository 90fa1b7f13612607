#include "providers/openai_wire.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace actorflow::wire {

using json = nlohmann::json;

namespace {

// JSON text for the wire. Invalid UTF-8 in a prompt (text cut mid-character, a binary file)
// becomes U+FFFD instead of an exception: nlohmann's strict default would throw from inside a
// provider call and surface as an `internal` error.
std::string to_wire(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Where a bad field is, as "choices[0].message.content".
std::string field(std::string_view parent, std::string_view name) {
  std::string out(parent);
  if (!out.empty())
    out += '.';
  out += name;
  return out;
}

std::string indexed(std::string_view parent, std::size_t i) {
  std::string out(parent);
  out.append("[").append(std::to_string(i)).append("]");
  return out;
}

/// Parses `body` as JSON, or says why it is not.
Result<json> parse(std::string_view body, Errc code) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    std::string text = "the body is not valid JSON";
    if (body.empty())
      text = "the body is empty";
    else if (body.size() <= 80)
      text.append(": ").append(body);
    else
      text.append(" (")
          .append(std::to_string(body.size()))
          .append(" bytes, starting ")
          .append(body.substr(0, 40))
          .append("...)");
    return Error{code, std::move(text)};
  }
  if (!doc.is_object())
    return Error{code, "the body is not a JSON object"};
  return doc;
}

/// A failure naming `where` and what it should have been.
Error bad(Errc code, const std::string& where, std::string_view what) {
  std::string text = where;
  text.append(": ").append(what);
  return Error{code, std::move(text)};
}

const json* member(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::uint64_t count_or_zero(const json& object, const char* name) {
  const json* v = member(object, name);
  return v && v->is_number_unsigned() ? v->get<std::uint64_t>() : 0;
}

Usage decode_usage(const json& object) {
  Usage usage;
  usage.prompt_tokens = count_or_zero(object, "prompt_tokens");
  usage.completion_tokens = count_or_zero(object, "completion_tokens");
  usage.total_tokens = count_or_zero(object, "total_tokens");
  if (usage.total_tokens == 0)
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  return usage;
}

json encode_usage(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.total_tokens}};
}

} // namespace

std::optional<std::string_view> header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (key == name)
      return std::string_view(value);
  return std::nullopt;
}

// -- chat ---------------------------------------------------------------------------------------

std::string encode_chat_request(const ChatRequest& request, std::string_view model, bool stream) {
  json messages = json::array();
  for (const auto& m : request.messages)
    messages.push_back({{"role", m.role}, {"content", m.content}});
  json body = {{"model", request.model.empty() ? std::string(model) : request.model},
               {"messages", std::move(messages)}};
  if (request.max_tokens)
    body["max_tokens"] = *request.max_tokens;
  if (request.temperature)
    body["temperature"] = *request.temperature;
  if (!request.stop.empty())
    body["stop"] = request.stop;
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return to_wire(body);
}

Result<ChatCall> decode_chat_request(std::string_view body) {
  auto doc = parse(body, Errc::bad_request);
  if (!doc)
    return std::move(doc).error();
  ChatCall call;
  const json* messages = member(*doc, "messages");
  if (!messages)
    return bad(Errc::bad_request, "messages", "missing");
  if (!messages->is_array() || messages->empty())
    return bad(Errc::bad_request, "messages", "expected a non-empty array");
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    auto where = indexed("messages", i);
    if (!m.is_object())
      return bad(Errc::bad_request, where, "expected an object");
    const json* role = member(m, "role");
    const json* content = member(m, "content");
    if (!role || !role->is_string())
      return bad(Errc::bad_request, field(where, "role"), "expected a string");
    if (!content || !content->is_string())
      return bad(Errc::bad_request, field(where, "content"), "expected a string");
    call.request.messages.push_back({role->get<std::string>(), content->get<std::string>()});
  }
  if (const json* model = member(*doc, "model")) {
    if (!model->is_string())
      return bad(Errc::bad_request, "model", "expected a string");
    call.request.model = model->get<std::string>();
  }
  if (const json* max = member(*doc, "max_tokens")) {
    if (!max->is_number_unsigned() || max->get<std::uint64_t>() > UINT32_MAX)
      return bad(Errc::bad_request, "max_tokens", "expected a non-negative integer");
    call.request.max_tokens = max->get<std::uint32_t>();
  }
  if (const json* t = member(*doc, "temperature")) {
    if (!t->is_number())
      return bad(Errc::bad_request, "temperature", "expected a number");
    call.request.temperature = t->get<double>();
  }
  if (const json* stop = member(*doc, "stop")) {
    if (stop->is_string()) {
      call.request.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array() && std::all_of(stop->begin(), stop->end(),
                                               [](const json& s) { return s.is_string(); })) {
      for (const auto& s : *stop)
        call.request.stop.push_back(s.get<std::string>());
    } else {
      return bad(Errc::bad_request, "stop", "expected a string or an array of strings");
    }
  }
  if (const json* stream = member(*doc, "stream")) {
    if (!stream->is_boolean())
      return bad(Errc::bad_request, "stream", "expected true or false");
    call.stream = stream->get<bool>();
  }
  if (const json* options = member(*doc, "stream_options"); options && options->is_object())
    if (const json* usage = member(*options, "include_usage"); usage && usage->is_boolean())
      call.include_usage = usage->get<bool>();
  return call;
}

std::string encode_chat_response(const ChatResponse& response, std::string_view id,
                                 std::int64_t created_unix) {
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", response.text}}},
                 {"finish_reason", response.finish_reason}};
  json body = {{"id", id},
               {"object", "chat.completion"},
               {"created", created_unix},
               {"model", response.model},
               {"choices", json::array({std::move(choice)})},
               {"usage", encode_usage(response.usage)}};
  return to_wire(body);
}

Result<ChatResponse> decode_chat_response(std::string_view body) {
  auto doc = parse(body, Errc::bad_response);
  if (!doc)
    return std::move(doc).error();
  const json* choices = member(*doc, "choices");
  if (!choices)
    return bad(Errc::bad_response, "choices", "missing");
  if (!choices->is_array() || choices->empty())
    return bad(Errc::bad_response, "choices", "expected a non-empty array");
  const json& first = (*choices)[0];
  const json* message = first.is_object() ? member(first, "message") : nullptr;
  if (!message || !message->is_object())
    return bad(Errc::bad_response, "choices[0].message", "missing");
  const json* content = member(*message, "content");
  // A null content is legal (a tool call, a refusal): it reads as empty text.
  if (content && !content->is_string())
    return bad(Errc::bad_response, "choices[0].message.content", "expected a string");
  if (!content && !message->contains("content"))
    return bad(Errc::bad_response, "choices[0].message.content", "missing");
  ChatResponse out;
  if (content)
    out.text = content->get<std::string>();
  if (const json* reason = member(first, "finish_reason"); reason && reason->is_string())
    out.finish_reason = reason->get<std::string>();
  if (const json* model = member(*doc, "model"); model && model->is_string())
    out.model = model->get<std::string>();
  if (const json* usage = member(*doc, "usage"); usage && usage->is_object())
    out.usage = decode_usage(*usage);
  return out;
}

// -- streaming ----------------------------------------------------------------------------------

std::string encode_chat_chunk(std::string_view id, std::int64_t created_unix,
                              std::string_view model, std::string_view delta,
                              std::optional<std::string_view> finish_reason,
                              const std::optional<Usage>& usage) {
  json choice = {{"index", 0},
                 {"delta", json::object()},
                 {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}};
  if (!delta.empty())
    choice["delta"]["content"] = delta;
  json body = {{"id", id},
               {"object", "chat.completion.chunk"},
               {"created", created_unix},
               {"model", model},
               {"choices", json::array({std::move(choice)})}};
  if (usage)
    body["usage"] = encode_usage(*usage);
  std::string out = "data: ";
  out.append(to_wire(body)).append("\n\n");
  return out;
}

std::string_view sse_done() { return "data: [DONE]\n\n"; }

Result<void> ChatStreamDecoder::feed(std::string_view bytes,
                                     const std::function<void(std::string_view)>& on_piece) {
  if (failed_)
    return *failed_;
  buffer_.append(bytes);
  // Events end at a blank line; each of their "data:" lines is one JSON chunk (or [DONE]).
  std::size_t start = 0;
  for (;;) {
    auto end = buffer_.find("\n\n", start);
    if (end == std::string::npos)
      break;
    std::string_view event(buffer_.data() + start, end - start);
    start = end + 2;
    while (!event.empty()) {
      auto line_end = event.find('\n');
      auto line = event.substr(0, line_end);
      event = line_end == std::string_view::npos ? std::string_view{} : event.substr(line_end + 1);
      if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
      if (!line.starts_with("data:"))
        continue; // comments (": keep-alive"), event names, ids
      auto data = line.substr(5);
      if (!data.empty() && data.front() == ' ')
        data.remove_prefix(1);
      if (data == "[DONE]") {
        done_ = true;
        continue;
      }
      auto chunk = parse(data, Errc::bad_response);
      if (!chunk) {
        failed_ = Error{Errc::bad_response, "stream chunk: " + chunk.error().message};
        return *failed_;
      }
      if (const json* model = member(*chunk, "model"); model && model->is_string())
        response_.model = model->get<std::string>();
      if (const json* usage = member(*chunk, "usage"); usage && usage->is_object())
        response_.usage = decode_usage(*usage);
      const json* choices = member(*chunk, "choices");
      if (!choices || !choices->is_array() || choices->empty())
        continue; // the usage-only last chunk has no choices
      const json& choice = (*choices)[0];
      any_choice_ = true;
      if (const json* reason = member(choice, "finish_reason"); reason && reason->is_string())
        response_.finish_reason = reason->get<std::string>();
      const json* delta = member(choice, "delta");
      const json* content = delta && delta->is_object() ? member(*delta, "content") : nullptr;
      if (content && content->is_string()) {
        const auto& piece = content->get_ref<const std::string&>();
        if (!piece.empty()) {
          response_.text += piece;
          on_piece(piece);
        }
      }
    }
  }
  buffer_.erase(0, start);
  return {};
}

Result<ChatResponse> ChatStreamDecoder::finish() {
  if (failed_)
    return *failed_;
  if (!done_)
    return Error{Errc::bad_response, "the stream ended without its [DONE] event"};
  if (!any_choice_)
    return Error{Errc::bad_response, "the stream held no choices"};
  return std::move(response_); // its usage came through decode_usage, if the server sent one
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
      v.push_back(x.get<float>());
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

std::optional<std::chrono::milliseconds> parse_retry_after(const Headers& headers) {
  if (auto ms = header(headers, "retry-after-ms"))
    if (auto n = parse_count(*ms))
      return std::chrono::milliseconds(*n);
  if (auto s = header(headers, "retry-after"))
    if (auto n = parse_count(*s))
      return std::chrono::seconds(*n);
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  double total_ms = 0;
  while (!text.empty()) {
    std::size_t n = 0;
    while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '.'))
      ++n;
    if (n == 0)
      return std::nullopt;
    double number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + n, number);
    if (ec != std::errc{} || end != text.data() + n)
      return std::nullopt;
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
    total_ms += number * unit_ms;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(total_ms)));
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
