#pragma once
/// doctest printers, so that a failed CHECK shows the values instead of "{?}".

#include <actorflow/state.hpp>
#include <actorflow/value.hpp>

#include <doctest/doctest.h>

namespace doctest {

template <>
struct StringMaker<actorflow::Value> {
  static String convert(const actorflow::Value& value) {
    const std::string text =
        std::string(actorflow::to_string(value.type())) + " " + value.preview(200);
    return String(text.c_str());
  }
};

template <>
struct StringMaker<actorflow::State> {
  static String convert(const actorflow::State& state) {
    return String(("State " + state.to_value().preview(200)).c_str());
  }
};

template <>
struct StringMaker<actorflow::Error> {
  static String convert(const actorflow::Error& error) { return String(error.to_string().c_str()); }
};

} // namespace doctest
