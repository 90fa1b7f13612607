#include "providers/wire_json.hpp"

namespace actorflow::wire {

std::string to_wire(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

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

Result<json> parse(std::string_view body, Errc code) {
  if (detail::json_too_deep(body))
    return Error{code, "the body nests arrays or objects deeper than " +
                           std::to_string(detail::max_nesting) + " levels"};
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
  if (const json* details = member(object, "prompt_tokens_details");
      details && details->is_object())
    usage.cached_tokens = count_or_zero(*details, "cached_tokens");
  if (usage.total_tokens == 0)
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  return usage;
}

json encode_usage(const Usage& usage) {
  json out = {{"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"total_tokens", usage.total_tokens}};
  if (usage.cached_tokens != 0)
    out["prompt_tokens_details"] = {{"cached_tokens", usage.cached_tokens}};
  return out;
}

} // namespace actorflow::wire
