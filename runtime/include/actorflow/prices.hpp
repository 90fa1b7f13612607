#pragma once
/// What model calls cost: a price per (provider, model) in US dollars per million tokens, and
/// the table a Runtime is configured with (`RuntimeConfig::prices`).
///
/// With prices, every model call's cost is counted into `RunUsage::cost` (with a breakdown
/// per provider and model), shown in `ModelCallEvent::cost` and the run report, and a
/// `Limits::money_per_run` budget can stop a run before it spends more.
///
/// The table as JSON (`PriceTable::from_json`, `PriceTable::load`), provider then model, "*"
/// for any:
///
///     {"openai": {"gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6,
///                                 "batch_discount": 0.5}},
///      "*":      {"local": {"input": 0, "output": 0}}}

#include <actorflow/chat.hpp>
#include <actorflow/result.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace actorflow {

/// US dollars per million tokens.
struct Price {
  double input = 0;
  /// Prompt tokens the server had cached (`Usage::cached_tokens`); none: as `input`.
  std::optional<double> cached_input{};
  double output = 0;
  /// The share taken off calls made through a provider's batch API (OpenAI's: half).
  double batch_discount = 0.5;

  /// The most one token can cost: what a call's reservation is priced at before it is made
  /// (its prompt and completion split is not known yet).
  [[nodiscard]] double worst_per_token() const noexcept;
  /// What `usage` cost: cached prompt tokens at `cached_input`, the rest of the prompt at
  /// `input`, completion tokens at `output`; less `batch_discount` when `batched`.
  [[nodiscard]] double cost(const Usage& usage, bool batched) const noexcept;
  friend bool operator==(const Price&, const Price&) = default;
};

class PriceTable {
public:
  /// Prices calls of `model` on the provider registered as `provider`; "*" for either matches
  /// any. Replaces an earlier entry for the same pair.
  PriceTable& set(std::string provider, std::string model, Price price);
  /// The most specific entry: (provider, model), ("*", model), (provider, "*"), ("*", "*");
  /// none when no entry matches (the call's cost is then unknown, counted as 0).
  [[nodiscard]] std::optional<Price> find(std::string_view provider, std::string_view model) const;
  [[nodiscard]] bool empty() const noexcept { return prices_.empty(); }

  /// The table from JSON text (see the file comment); errors name the entry and field.
  [[nodiscard]] static Result<PriceTable> from_json(std::string_view text);
  /// `from_json` of a file's contents; errors name the file.
  [[nodiscard]] static Result<PriceTable> load(const std::string& path);

private:
  std::map<std::pair<std::string, std::string>, Price, std::less<>> prices_;
};

/// "$0.0123": dollars to four significant places after the point (at least two), for reports
/// and error messages.
[[nodiscard]] std::string format_money(double dollars);

} // namespace actorflow
