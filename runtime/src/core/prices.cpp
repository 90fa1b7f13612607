#include <actorflow/prices.hpp>
#include <actorflow/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace actorflow {

namespace {

constexpr double per_million = 1e-6;

Error bad_price(std::string_view where, std::string_view what) {
  std::string message = "prices: ";
  message += where;
  message += ": ";
  message += what;
  return Error{Errc::bad_input, std::move(message)};
}

// A price field: a number, finite and not negative.
Result<std::optional<double>> field(const Value& entry, std::string_view name,
                                    std::string_view where) {
  const Value* found = entry.find(name);
  if (found == nullptr)
    return std::optional<double>{};
  if (!found->is_number())
    return bad_price(where, std::string(name) + " must be a number, got " + found->preview());
  const double value = found->as_double();
  if (!std::isfinite(value) || value < 0)
    return bad_price(where, std::string(name) + " must be 0 or more, got " + found->preview());
  return std::optional<double>{value};
}

Result<Price> price_of(const Value& entry, std::string_view where) {
  if (!entry.is_map())
    return bad_price(where, "expected an object of prices, got " + entry.preview());
  for (const auto& [key, value] : entry.as_map())
    if (key != "input" && key != "cached_input" && key != "output" && key != "batch_discount")
      return bad_price(where, "unknown field '" + key +
                                  "' (known: input, cached_input, output, batch_discount)");
  Price price;
  for (auto [name, into] : {std::pair{"input", &price.input}, std::pair{"output", &price.output},
                            std::pair{"batch_discount", &price.batch_discount}}) {
    auto read = field(entry, name, where);
    if (!read)
      return read.error();
    if (*read)
      *into = **read;
  }
  auto cached = field(entry, "cached_input", where);
  if (!cached)
    return cached.error();
  price.cached_input = *cached;
  if (price.batch_discount > 1)
    return bad_price(where, "batch_discount is a share of the price, from 0 to 1");
  return price;
}

} // namespace

double Price::worst_per_token() const noexcept {
  return std::max({input, cached_input.value_or(0), output}) * per_million;
}

double Price::cost(const Usage& usage, bool batched) const noexcept {
  const std::uint64_t cached = std::min(usage.cached_tokens, usage.prompt_tokens);
  const double dollars = (static_cast<double>(usage.prompt_tokens - cached) * input +
                          static_cast<double>(cached) * cached_input.value_or(input) +
                          static_cast<double>(usage.completion_tokens) * output) *
                         per_million;
  // A price set in code is not checked: a discount outside [0, 1] or a negative price must
  // not make a call pay the run's budget back.
  const double paid = batched ? dollars * (1 - std::clamp(batch_discount, 0.0, 1.0)) : dollars;
  return std::isfinite(paid) && paid > 0 ? paid : 0;
}

PriceTable& PriceTable::set(std::string provider, std::string model, Price price) {
  prices_[{std::move(provider), std::move(model)}] = price;
  return *this;
}

std::optional<Price> PriceTable::find(std::string_view provider, std::string_view model) const {
  for (auto [p, m] : {std::pair{provider, model}, std::pair{std::string_view("*"), model},
                      std::pair{provider, std::string_view("*")},
                      std::pair{std::string_view("*"), std::string_view("*")}}) {
    auto it = prices_.find(std::pair{std::string(p), std::string(m)});
    if (it != prices_.end())
      return it->second;
  }
  return std::nullopt;
}

Result<PriceTable> PriceTable::from_json(std::string_view text) {
  Result<Value> parsed = actorflow::from_json(text);
  if (!parsed)
    return bad_price("not JSON", parsed.error().message);
  if (!parsed->is_map())
    return bad_price("the table", "expected an object of providers, got " + parsed->preview());
  PriceTable table;
  for (const auto& [provider, models] : parsed->as_map()) {
    if (!models.is_map())
      return bad_price(provider, "expected an object of models, got " + models.preview());
    for (const auto& [model, entry] : models.as_map()) {
      auto price = price_of(entry, provider + "/" + model);
      if (!price)
        return price.error();
      table.set(provider, model, *price);
    }
  }
  return table;
}

Result<PriceTable> PriceTable::load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return Error{Errc::bad_input, "prices: cannot read '" + path + "'"};
  std::ostringstream text;
  text << file.rdbuf();
  auto table = from_json(text.str());
  if (!table)
    return Error{Errc::bad_input, path + ": " + table.error().message};
  return table;
}

std::string format_money(double dollars) {
  char buffer[64];
  // Small amounts keep four significant digits: $0.000150 for a single cheap call.
  const double magnitude = std::fabs(dollars);
  int decimals = 2;
  if (magnitude > 0 && magnitude < 1)
    decimals = std::clamp(3 - static_cast<int>(std::floor(std::log10(magnitude))), 2, 9);
  std::snprintf(buffer, sizeof buffer, "$%.*f", decimals, dollars);
  return buffer;
}

} // namespace actorflow
