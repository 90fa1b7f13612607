// Value: construction, accessors, mismatch messages, equality, preview; plus result.hpp.

#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include "printers.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

using namespace actorflow;

namespace {

// The message of the BadValueAccess that `fn` throws; fails the test if it throws nothing.
template <class Fn>
std::string access_error(Fn&& fn) {
  try {
    (void)fn();
  } catch (const BadValueAccess& e) {
    return e.what();
  }
  FAIL("expected BadValueAccess");
  return {};
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("Value") {

  TEST_CASE("a default Value is null and has no elements") {
    const Value v;
    CHECK(v.is_null());
    CHECK(v.type() == ValueType::null);
    CHECK(v == Value(nullptr));
    CHECK(v.size() == 0);
    CHECK_FALSE(v.is_number());
    CHECK(v.find("x") == nullptr);
  }

  TEST_CASE("a bool holds true or false and nothing else") {
    CHECK(Value(true).as_bool());
    CHECK_FALSE(Value(false).as_bool());
    CHECK(Value(true).is_bool());
    CHECK(Value(true).type() == ValueType::boolean);
    CHECK_FALSE(Value(true).is_number());
    CHECK_THROWS_WITH_AS((void)Value(true).as_int(), "Value::as_int: holds bool (true), not int64",
                         BadValueAccess);
  }

  TEST_CASE("every integer type up to 64 bits becomes an int64") {
    CHECK(Value(std::int8_t{-8}).as_int() == -8);
    CHECK(Value(std::uint8_t{200}).as_int() == 200);
    CHECK(Value(std::int16_t{-300}).as_int() == -300);
    CHECK(Value(std::uint16_t{60000}).as_int() == 60000);
    CHECK(Value(-70000).as_int() == -70000);
    CHECK(Value(4000000000U).as_int() == 4000000000);
    CHECK(Value(std::numeric_limits<std::int64_t>::min()).as_int() ==
          std::numeric_limits<std::int64_t>::min());
    CHECK(Value(std::numeric_limits<std::int64_t>::max()).as_int() ==
          std::numeric_limits<std::int64_t>::max());
    CHECK(Value(std::uint64_t{INT64_MAX}).as_int() == INT64_MAX);
    CHECK(Value(7).is_int());
    CHECK(Value(7).is_number());
    CHECK(Value(7).type() == ValueType::integer);
  }

  TEST_CASE("an unsigned integer above INT64_MAX is refused instead of wrapping around") {
    const std::uint64_t too_big = std::uint64_t{INT64_MAX} + 1;
    const std::string message = access_error([&] { return Value(too_big); });
    CHECK(contains(message, "9223372036854775808"));
    CHECK(contains(message, "int64"));
    CHECK_THROWS_AS(Value(std::numeric_limits<std::uint64_t>::max()), BadValueAccess);
  }

  TEST_CASE("a double is a number, and as_double widens an int64 but as_int never narrows") {
    CHECK(Value(1.5).as_double() == 1.5);
    CHECK(Value(1.5f).as_double() == 1.5);
    CHECK(Value(1.5).is_double());
    CHECK(Value(1.5).is_number());
    CHECK(Value(1.5).type() == ValueType::real);
    CHECK(Value(3).as_double() == 3.0);
    CHECK_THROWS_WITH_AS((void)Value(2.0).as_int(), "Value::as_int: holds double (2.0), not int64",
                         BadValueAccess);
    CHECK_THROWS_WITH_AS((void)Value("3").as_double(),
                         "Value::as_double: holds string (\"3\"), not double", BadValueAccess);
  }

  TEST_CASE("strings come from std::string, string_view and C strings alike") {
    const std::string owned = "owned";
    CHECK(Value(owned).as_string() == "owned");
    CHECK(Value(std::string_view("view")).as_string() == "view");
    CHECK(Value("literal").as_string() == "literal");
    CHECK(Value("").as_string().empty());
    CHECK(Value("x").is_string());
    CHECK(Value("x").type() == ValueType::string);
    CHECK_THROWS_WITH_AS((void)Value(42).as_string(),
                         "Value::as_string: holds int64 (42), not string", BadValueAccess);
  }

  TEST_CASE("binary holds bytes and is never text") {
    const Binary bytes{{0x00, 0xff, 0x10}};
    const Value v(bytes);
    CHECK(v.is_binary());
    CHECK(v.type() == ValueType::binary);
    CHECK(v.as_binary() == bytes);
    CHECK(v.size() == 0); // bytes are no elements
    CHECK(Value(Binary{{'h', 'i'}}) != Value("hi"));
    CHECK_THROWS_WITH_AS((void)v.as_string(),
                         "Value::as_string: holds binary (\"AP8Q\"), not string", BadValueAccess);
    CHECK_THROWS_WITH_AS((void)Value("hi").as_binary(),
                         "Value::as_binary: holds string (\"hi\"), not binary", BadValueAccess);
  }

  TEST_CASE("an array holds elements in order and can be changed through as_array") {
    Value v = Value::array({1, "two", 3.0, nullptr});
    CHECK(v.is_array());
    CHECK(v.type() == ValueType::array);
    REQUIRE(v.size() == 4);
    CHECK(v.at(std::size_t{0}).as_int() == 1);
    CHECK(v.at(std::size_t{1}).as_string() == "two");
    CHECK(v.at(std::size_t{2}).as_double() == 3.0);
    CHECK(v.at(std::size_t{3}).is_null());
    v.as_array().push_back(true);
    CHECK(v.size() == 5);
    CHECK(v.as_array().back().as_bool());
    CHECK(Value(Array{}).size() == 0);
    CHECK_THROWS_WITH_AS((void)v.as_map(),
                         "Value::as_map: holds array ([1,\"two\",3.0,null,true]), not map",
                         BadValueAccess);
  }

  TEST_CASE("a map holds sorted string keys and can be changed through as_map") {
    Value v = Value::object({{"n", 1}, {"name", "x"}, {"a", Value::array({})}});
    CHECK(v.is_map());
    CHECK(v.type() == ValueType::map);
    CHECK(v.size() == 3);
    CHECK(v.at("n").as_int() == 1);
    CHECK(v.at("name").as_string() == "x");
    CHECK(v.at("a").size() == 0);
    REQUIRE(v.find("name") != nullptr);
    CHECK(v.find("name")->as_string() == "x");
    CHECK(v.find("missing") == nullptr);
    v.as_map()["added"] = 2.5;
    CHECK(v.at("added").as_double() == 2.5);
    CHECK(v.as_map().begin()->first == "a");
    CHECK_THROWS_WITH_AS((void)Value::object({{"k", 1}}).as_array(),
                         "Value::as_array: holds map ({\"k\":1}), not array", BadValueAccess);
  }

  TEST_CASE("a mismatch on null names both types too") {
    CHECK_THROWS_WITH_AS((void)Value().as_bool(), "Value::as_bool: holds null (null), not bool",
                         BadValueAccess);
    CHECK_THROWS_WITH_AS((void)Value().as_array(), "Value::as_array: holds null (null), not array",
                         BadValueAccess);
    Value mutable_null;
    CHECK_THROWS_WITH_AS((void)mutable_null.as_map(), "Value::as_map: holds null (null), not map",
                         BadValueAccess);
    CHECK_THROWS_WITH_AS((void)mutable_null.as_array(),
                         "Value::as_array: holds null (null), not array", BadValueAccess);
  }

  TEST_CASE("at with a missing key names the key") {
    const Value v = Value::object({{"present", 1}});
    const std::string message = access_error([&] { return v.at("absent"); });
    CHECK(contains(message, "Value::at"));
    CHECK(contains(message, "\"absent\""));
    CHECK(contains(message, "present"));
  }

  TEST_CASE("at with a key on a non-map names both types") {
    CHECK_THROWS_WITH_AS((void)Value(5).at("k"), "Value::at: holds int64 (5), not map",
                         BadValueAccess);
    CHECK(Value(5).find("k") == nullptr);
  }

  TEST_CASE("at with an index names the index and the size") {
    const Value v = Value::array({1, 2, 3});
    CHECK_THROWS_WITH_AS((void)v.at(std::size_t{3}),
                         "Value::at: index 3 out of range for array of size 3", BadValueAccess);
    CHECK_THROWS_WITH_AS((void)Value("s").at(std::size_t{0}),
                         "Value::at: holds string (\"s\"), not array", BadValueAccess);
  }

  TEST_CASE("equality compares type and contents, so int 1 differs from double 1.0") {
    CHECK(Value(1) != Value(1.0));
    CHECK(Value(1) == Value(std::int64_t{1}));
    CHECK(Value(0) != Value(false));
    CHECK(Value() != Value(0));
    CHECK(Value("a") != Value("b"));
    CHECK(Value::array({1, 2}) == Value::array({1, 2}));
    CHECK(Value::array({1, 2}) != Value::array({2, 1}));
    CHECK(Value::object({{"a", 1}}) == Value::object({{"a", 1}}));
    CHECK(Value::object({{"a", 1}}) != Value::object({{"a", 1.0}}));
    CHECK(Value::object({{"a", 1}}) != Value::object({{"b", 1}}));
    CHECK(Value(Array{}) != Value(Map{}));
  }

  TEST_CASE("copies are deep and independent") {
    const Value original = Value::object({{"list", Value::array({1, 2})}});
    Value copy = original;
    copy.as_map()["list"].as_array().push_back(3);
    CHECK(original.at("list").size() == 2);
    CHECK(copy.at("list").size() == 3);
    CHECK(original != copy);
  }

  TEST_CASE("to_string names every ValueType") {
    CHECK(to_string(ValueType::null) == "null");
    CHECK(to_string(ValueType::boolean) == "bool");
    CHECK(to_string(ValueType::integer) == "int64");
    CHECK(to_string(ValueType::real) == "double");
    CHECK(to_string(ValueType::string) == "string");
    CHECK(to_string(ValueType::binary) == "binary");
    CHECK(to_string(ValueType::array) == "array");
    CHECK(to_string(ValueType::map) == "map");
  }

  TEST_CASE("preview shows short values whole as compact JSON") {
    CHECK(Value().preview() == "null");
    CHECK(Value(false).preview() == "false");
    CHECK(Value(-12).preview() == "-12");
    CHECK(Value(0.5).preview() == "0.5");
    CHECK(Value("a\"b\n").preview() == "\"a\\\"b\\n\"");
    const Value nested = Value::object({{"a", Value::array({1, true, nullptr})}, {"b", "c"}});
    CHECK(nested.preview() == R"({"a":[1,true,null],"b":"c"})");
    CHECK(nested.preview(1000) == to_json(nested));
  }

  TEST_CASE("preview cuts long values to max_chars and ends them with ...") {
    const Value long_string(std::string(1000, 'x'));
    const std::string cut = long_string.preview(20);
    CHECK(cut.size() == 20);
    CHECK(cut == "\"" + std::string(16, 'x') + "...");
    const Value exact("abcdefgh"); // 10 characters with quotes
    CHECK(exact.preview(10) == "\"abcdefgh\"");
    CHECK(exact.preview(9) == "\"abcde...");
    Array many(10000, Value(123456));
    const std::string array_cut = Value(many).preview();
    CHECK(array_cut.size() == 40);
    CHECK(array_cut.substr(0, 8) == "[123456,");
    CHECK(array_cut.substr(37) == "...");
    const Binary big{std::vector<std::uint8_t>(100000, 0)};
    CHECK(Value(big).preview(12) == "\"AAAAAAAA...");
  }

  TEST_CASE("preview never cuts a UTF-8 character in half") {
    std::string text;
    for (int i = 0; i < 30; ++i)
      text += "\xc3\xa9"; // "é", two bytes
    // Nine characters leave room for '"' and five bytes: two and a half "é", so it keeps two.
    CHECK(Value(text).preview(9) == "\"\xc3\xa9\xc3\xa9...");
    CHECK(Value(text).preview(10) == "\"\xc3\xa9\xc3\xa9\xc3\xa9...");
  }

  TEST_CASE("preview bounds deep nesting and shows NaN and infinity by name") {
    Value deep = 1;
    for (int i = 0; i < 1000; ++i) {
      Array wrapper;
      wrapper.push_back(std::move(deep));
      deep = Value(std::move(wrapper));
    }
    const std::string cut = deep.preview(30);
    CHECK(cut == std::string(27, '[') + "...");
    CHECK(Value(std::nan("")).preview() == "NaN");
    CHECK(Value(std::numeric_limits<double>::infinity()).preview() == "Infinity");
    CHECK(Value(-std::numeric_limits<double>::infinity()).preview() == "-Infinity");
    CHECK_THROWS_WITH_AS((void)Value(std::nan("")).as_string(),
                         "Value::as_string: holds double (NaN), not string", BadValueAccess);
  }

} // TEST_SUITE("Value")

TEST_SUITE("Result") {

  TEST_CASE("every Errc has a stable name") {
    CHECK(to_string(Errc::invalid_flow) == "invalid_flow");
    CHECK(to_string(Errc::bad_input) == "bad_input");
    CHECK(to_string(Errc::node_threw) == "node_threw");
    CHECK(to_string(Errc::cancelled) == "cancelled");
    CHECK(to_string(Errc::deadline_exceeded) == "deadline_exceeded");
    CHECK(to_string(Errc::step_limit) == "step_limit");
    CHECK(to_string(Errc::unavailable) == "unavailable");
    CHECK(to_string(Errc::rate_limited) == "rate_limited");
    CHECK(to_string(Errc::peer_lost) == "peer_lost");
    CHECK(to_string(Errc::internal) == "internal");
    CHECK(to_string(static_cast<Errc>(200)) == "unknown");
    CHECK(static_cast<int>(Errc::invalid_flow) == 1);
    CHECK(static_cast<int>(Errc::internal) == 10);
  }

  TEST_CASE("only transient codes are retryable") {
    CHECK(is_retryable(Errc::unavailable));
    CHECK(is_retryable(Errc::rate_limited));
    CHECK(is_retryable(Errc::timeout));
    CHECK(is_retryable(Errc::server_error));
    CHECK(is_retryable(Errc::connection_failed));
    CHECK(is_retryable(Errc::node_threw));
    CHECK(is_retryable(Errc::peer_lost));
    CHECK_FALSE(is_retryable(Errc::deadline_exceeded));
    CHECK_FALSE(is_retryable(Errc::bad_request));
    CHECK_FALSE(is_retryable(Errc::circuit_open));
    CHECK_FALSE(is_retryable(Errc::invalid_flow));
    CHECK_FALSE(is_retryable(Errc::bad_input));
    CHECK_FALSE(is_retryable(Errc::cancelled));
    CHECK_FALSE(is_retryable(Errc::step_limit));
    CHECK_FALSE(is_retryable(Errc::internal));
  }

  TEST_CASE("an Error prints as code: message and a Failure carries it") {
    const Error error{Errc::invalid_flow, "edge a -> b: no node 'b'"};
    CHECK(error.to_string() == "invalid_flow: edge a -> b: no node 'b'");
    CHECK(Error{Errc::cancelled, ""}.to_string() == "cancelled");
    const Failure failure(error);
    CHECK(std::string(failure.what()) == "invalid_flow: edge a -> b: no node 'b'");
    CHECK(failure.error() == error);
    CHECK(Error{Errc::bad_input, "x"} != Error{Errc::internal, "x"});
  }

  TEST_CASE("a Result holds a value or an error, and value() on an error throws Failure") {
    Result<int> good = 5;
    CHECK(good.ok());
    CHECK(static_cast<bool>(good));
    CHECK(good.value() == 5);
    CHECK(*good == 5);

    Result<std::string> text = std::string("abc");
    CHECK(text->size() == 3);

    const Result<int> bad = Error{Errc::unavailable, "down"};
    CHECK_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::unavailable);
    CHECK_THROWS_WITH_AS((void)bad.value(), "unavailable: down", Failure);
    try {
      (void)bad.value();
    } catch (const Failure& f) {
      CHECK(f.error() == Error{Errc::unavailable, "down"});
    }

    Result<std::string> moved = std::string("payload");
    const std::string out = std::move(moved).value();
    CHECK(out == "payload");
  }

  TEST_CASE("Result<void> is ok by default and throws its error from value()") {
    const Result<void> fine;
    CHECK(fine.ok());
    CHECK_NOTHROW(fine.value());
    const Result<void> failed = Error{Errc::step_limit, "too many"};
    CHECK_FALSE(failed);
    CHECK(failed.error().code == Errc::step_limit);
    CHECK_THROWS_WITH_AS((void)failed.value(), "step_limit: too many", Failure);
  }

} // TEST_SUITE("Result")
