// Prices: which entry prices a call, what a call costs (cached prompt tokens, the batch
// discount), the JSON table and its errors, and money as reports print it.
#include <actorflow/prices.hpp>

#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <fstream>

using namespace actorflow;
using namespace actorflow::testing_support;

namespace {

Price priced(double input, double output) {
  Price p;
  p.input = input;
  p.output = output;
  return p;
}

} // namespace

TEST_CASE("the most specific entry prices a call: provider and model, then either as any") {
  PriceTable table;
  table.set("openai", "gpt-4o", priced(2.5, 10))
      .set("*", "gpt-4o", priced(3, 12))
      .set("openai", "*", priced(1, 1))
      .set("*", "*", priced(0.5, 0.5));
  CHECK(table.find("openai", "gpt-4o")->input == 2.5);
  CHECK(table.find("azure", "gpt-4o")->input == 3);
  CHECK(table.find("openai", "o3")->input == 1);
  CHECK(table.find("local", "local")->input == 0.5);
  CHECK_FALSE(PriceTable().find("openai", "gpt-4o").has_value());
}

TEST_CASE("a call costs its uncached prompt, cached prompt and completion at their prices") {
  Price p = priced(2.0, 8.0);
  p.cached_input = 0.5;
  const Usage usage{1'000'000, 500'000, 1'500'000, 400'000};
  // 600k at $2, 400k at $0.50, 500k at $8.
  CHECK(p.cost(usage, false) == doctest::Approx(1.2 + 0.2 + 4.0));
  CHECK(p.cost(usage, true) == doctest::Approx((1.2 + 0.2 + 4.0) * 0.5));
  p.cached_input.reset(); // cached tokens then cost as input
  CHECK(p.cost(usage, false) == doctest::Approx(2.0 + 4.0));
  CHECK(p.worst_per_token() == doctest::Approx(8e-6));
  // More cached tokens than prompt tokens (a confused server): all of the prompt is cached.
  CHECK(p.cost(Usage{10, 0, 10, 50}, false) == doctest::Approx(10 * 2.0e-6));
  // A discount beyond the whole price (set in code, unchecked) makes a call free, not a refund.
  p.batch_discount = 3;
  CHECK(p.cost(usage, true) == 0);
}

TEST_CASE("a price table from JSON, and errors naming the entry and field") {
  auto table = must(PriceTable::from_json(
      R"({"openai": {"gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6}},
          "*": {"local": {"input": 0, "output": 0, "batch_discount": 0}}})"));
  const auto mini = table.find("openai", "gpt-4o-mini");
  REQUIRE(mini);
  CHECK(mini->input == 0.15);
  CHECK(mini->cached_input == 0.075);
  CHECK(mini->output == 0.6);
  CHECK(mini->batch_discount == 0.5); // the default: OpenAI's
  CHECK(table.find("anything", "local")->batch_discount == 0);

  auto fails = [](std::string_view text, std::string_view says) {
    auto bad = PriceTable::from_json(text);
    REQUIRE_FALSE(bad.ok());
    INFO(bad.error().message);
    CHECK(bad.error().code == Errc::bad_input);
    CHECK(contains(bad.error().message, says));
  };
  fails(R"({"openai": {"m": {"input": "cheap"}}})", "openai/m: input must be a number");
  fails(R"({"openai": {"m": {"output": -1}}})", "openai/m: output must be 0 or more");
  fails(R"({"openai": {"m": {"inptu": 1}}})", "openai/m: unknown field 'inptu'");
  fails(R"({"openai": {"m": {"batch_discount": 2}}})", "batch_discount is a share");
  fails(R"({"openai": ["m"]})", "openai: expected an object of models");
  fails("[1]", "expected an object of providers");
  fails("{", "prices: not JSON");
}

TEST_CASE("a price table file: loaded, or an error naming the file") {
  TempDir dir;
  const auto path = (dir.path() / "prices.json").string();
  std::ofstream(path) << R"({"openai": {"gpt-4o": {"input": 2.5, "output": 10}}})";
  CHECK(must(PriceTable::load(path)).find("openai", "gpt-4o")->output == 10);
  auto missing = PriceTable::load(path + ".nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error().message, path + ".nope"));
}

TEST_CASE("money reads in dollars, small amounts to four significant digits") {
  CHECK(format_money(12.5) == "$12.50");
  CHECK(format_money(0) == "$0.00");
  CHECK(format_money(0.5) == "$0.5000");
  CHECK(format_money(0.00015) == "$0.0001500");
}
