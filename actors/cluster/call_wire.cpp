#include "actors/cluster/call_wire.hpp"

#include "actors/wire.hpp"
#include "core/outcome_codec.hpp"

#include <array>
#include <cmath>
#include <map>
#include <string>

namespace actorflow::actors {

namespace {

std::uint64_t count_of(const Value* field) {
  return field != nullptr && field->is_int() && field->as_int() > 0
             ? static_cast<std::uint64_t>(field->as_int())
             : 0;
}

// A cost from a peer: a finite amount, 0 or more; anything else counts 0.
double money_of(const Value* field) {
  if (field == nullptr || !field->is_number())
    return 0;
  const double amount = field->as_double();
  return std::isfinite(amount) && amount > 0 ? amount : 0;
}

Value encode_model_usage(const std::map<std::string, ModelUsage>& by_model) {
  Map out;
  for (const auto& [key, u] : by_model)
    out.emplace(key, Array{u.calls, u.failed_calls, u.prompt_tokens, u.cached_tokens,
                           u.completion_tokens, u.cost, u.priced, u.batched_calls});
  return out;
}

std::map<std::string, ModelUsage> decode_model_usage(const Value& value) {
  std::map<std::string, ModelUsage> out;
  if (!value.is_map())
    return out;
  for (const auto& [key, fields] : value.as_map()) {
    if (!fields.is_array() || fields.size() != 8)
      continue;
    const Array& f = fields.as_array();
    out[key] = ModelUsage{count_of(&f[0]),
                          count_of(&f[1]),
                          count_of(&f[2]),
                          count_of(&f[3]),
                          count_of(&f[4]),
                          money_of(&f[5]),
                          f[6].is_bool() && f[6].as_bool(),
                          count_of(&f[7])};
  }
  return out;
}

Value encode_call(const ModelCallEvent& call) {
  Map map{{"provider", call.provider},
          {"model", call.model},
          {"waited_ns", call.waited.count()},
          {"took_ns", call.took.count()},
          {"estimated_tokens", static_cast<std::int64_t>(call.estimated_tokens)},
          {"prompt_tokens", static_cast<std::int64_t>(call.usage.prompt_tokens)},
          {"completion_tokens", static_cast<std::int64_t>(call.usage.completion_tokens)},
          {"total_tokens", static_cast<std::int64_t>(call.usage.total_tokens)},
          {"cached_tokens", static_cast<std::int64_t>(call.usage.cached_tokens)},
          {"cost", call.cost},
          {"batched", call.batched}};
  if (call.error)
    map.emplace("error", detail::encode_error(*call.error));
  return map;
}

std::optional<ModelCallEvent> decode_call(const Value& map) {
  const Value* provider = map.find("provider");
  const Value* model = map.find("model");
  if (provider == nullptr || !provider->is_string() || model == nullptr || !model->is_string())
    return std::nullopt;
  ModelCallEvent call;
  call.provider = provider->as_string();
  call.model = model->as_string();
  call.waited = std::chrono::nanoseconds(count_of(map.find("waited_ns")));
  call.took = std::chrono::nanoseconds(count_of(map.find("took_ns")));
  call.estimated_tokens = count_of(map.find("estimated_tokens"));
  call.usage = Usage{count_of(map.find("prompt_tokens")), count_of(map.find("completion_tokens")),
                     count_of(map.find("total_tokens")), count_of(map.find("cached_tokens"))};
  call.cost = money_of(map.find("cost"));
  if (const Value* batched = map.find("batched"); batched != nullptr && batched->is_bool())
    call.batched = batched->as_bool();
  if (const Value* error = map.find("error"); error != nullptr) {
    Error decoded;
    if (!detail::decode_error(*error, "model call: error", decoded))
      return std::nullopt;
    call.error = std::move(decoded);
  }
  return call;
}

} // namespace

std::vector<char> encode_calls(const RunUsage& u, const std::vector<ModelCallEvent>& calls) {
  Array events;
  events.reserve(calls.size());
  for (const auto& call : calls)
    events.push_back(encode_call(call));
  return to_wire(Value(Array{u.calls, u.failed_calls, u.rate_limited, u.prompt_tokens,
                             u.completion_tokens, u.refused, Value(std::move(events)), u.cost,
                             encode_model_usage(u.by_model), u.fallbacks}));
}

LaunchCalls decode_calls(const std::vector<char>& bytes) {
  auto decoded = from_msgpack(wire_view(bytes));
  if (!decoded || !decoded->is_array() || decoded->as_array().size() < 6)
    return {};
  const auto& fields = decoded->as_array();
  std::array<std::uint64_t, 6> n{};
  for (std::size_t i = 0; i < n.size(); ++i)
    n[i] = count_of(&fields[i]);
  LaunchCalls out{RunUsage{n[0], n[1], n[2], n[3], n[4], n[5], 0, 0, {}}, {}};
  if (fields.size() > 8) {
    out.usage.cost = money_of(&fields[7]);
    out.usage.by_model = decode_model_usage(fields[8]);
  }
  if (fields.size() > 9)
    out.usage.fallbacks = count_of(&fields[9]);
  if (fields.size() > 6 && fields[6].is_array())
    for (const auto& event : fields[6].as_array())
      if (auto call = decode_call(event))
        out.calls.push_back(std::move(*call));
  return out;
}
} // namespace actorflow::actors
