// The depth limit of JSON texts from outside (core/nesting): found by a scan before any
// parser builds a tree.
#include "core/nesting.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace actorflow;

TEST_CASE("JSON nested deeper than 256 levels is found, brackets in strings are not counted") {
  CHECK_FALSE(detail::json_too_deep(std::string(256, '[') + std::string(256, ']')));
  CHECK(detail::json_too_deep(std::string(257, '[')));
  CHECK(detail::json_too_deep(std::string(1'000'000, '[')));
  CHECK_FALSE(detail::json_too_deep(R"(["\"[[[[", "]]]"])" + std::string(300, ' ')));
  CHECK_FALSE(detail::json_too_deep("[\"" + std::string(1000, '[') + "\"]"));
  // Siblings do not add up: depth is nesting, not count.
  std::string siblings;
  for (int i = 0; i < 1000; ++i)
    siblings += "[]";
  CHECK_FALSE(detail::json_too_deep(siblings));
  // Objects count as arrays do.
  std::string objects;
  for (int i = 0; i < 300; ++i)
    objects += R"({"a":)";
  CHECK(detail::json_too_deep(objects));
}
