// Value encodings: msgpack (round trips, exact bytes, hostile input) and JSON.

#include <actorflow/value.hpp>

#include "printers.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace actorflow;

namespace {

using Bytes = std::vector<std::uint8_t>;

Value msgpack_round_trip(const Value& value) {
  const Bytes bytes = to_msgpack(value);
  Result<Value> decoded = from_msgpack(bytes);
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().to_string());
  return std::move(decoded).value();
}

// The error of decoding `bytes`; fails the test if decoding succeeds.
Error msgpack_error(const Bytes& bytes) {
  Result<Value> decoded = from_msgpack(bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == Errc::bad_input);
  return decoded.error();
}

Error json_error(std::string_view text) {
  Result<Value> decoded = from_json(text);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == Errc::bad_input);
  return decoded.error();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

Binary all_bytes() {
  Binary binary;
  for (int i = 0; i < 256; ++i)
    binary.bytes.push_back(static_cast<std::uint8_t>(i));
  return binary;
}

Value sample() {
  return Value::object({
      {"null", nullptr},
      {"yes", true},
      {"no", false},
      {"int", -42},
      {"real", 2.5},
      {"text", "h\xc3\xa9llo"},
      {"bytes", Binary{{1, 2, 3}}},
      {"list", Value::array({1, "two", Value::array({3.0, Value::array({})}), Value(Map{})})},
      {"nested", Value::object({{"deeper", Value::object({{"k", "v"}})}})},
  });
}

} // namespace

TEST_SUITE("msgpack") {

  TEST_CASE("every scalar type survives a msgpack round trip") {
    CHECK(msgpack_round_trip(Value()) == Value());
    CHECK(msgpack_round_trip(true) == Value(true));
    CHECK(msgpack_round_trip(false) == Value(false));
    CHECK(msgpack_round_trip(0) == Value(0));
    CHECK(msgpack_round_trip(1.5) == Value(1.5));
    CHECK(msgpack_round_trip(-0.25) == Value(-0.25));
    CHECK(msgpack_round_trip(1e300) == Value(1e300));
    CHECK(msgpack_round_trip(std::numeric_limits<double>::denorm_min()) ==
          Value(std::numeric_limits<double>::denorm_min()));
    CHECK(msgpack_round_trip(std::numeric_limits<double>::infinity()) ==
          Value(std::numeric_limits<double>::infinity()));
    CHECK(std::isnan(msgpack_round_trip(std::nan("")).as_double()));
    CHECK(msgpack_round_trip("") == Value(""));
    CHECK(msgpack_round_trip("h\xc3\xa9llo \xe2\x9c\x93") == Value("h\xc3\xa9llo \xe2\x9c\x93"));
    CHECK(msgpack_round_trip(std::string(300, 's')) == Value(std::string(300, 's')));
    CHECK(msgpack_round_trip(std::string(70000, 'L')) == Value(std::string(70000, 'L')));
    CHECK(msgpack_round_trip(std::string("nul\0inside", 10)).as_string().size() == 10);
  }

  TEST_CASE("an int stays an int and a double stays a double through msgpack") {
    CHECK(msgpack_round_trip(1).is_int());
    CHECK(msgpack_round_trip(1.0).is_double());
    CHECK(msgpack_round_trip(1) != Value(1.0));
  }

  TEST_CASE("integers at every encoding boundary and at INT64_MIN and INT64_MAX round-trip") {
    const std::int64_t cases[] = {0,
                                  1,
                                  -1,
                                  127,
                                  128,
                                  -32,
                                  -33,
                                  -128,
                                  -129,
                                  255,
                                  256,
                                  65535,
                                  65536,
                                  -32768,
                                  -32769,
                                  std::numeric_limits<std::int32_t>::max(),
                                  std::int64_t{std::numeric_limits<std::int32_t>::max()} + 1,
                                  std::numeric_limits<std::int32_t>::min(),
                                  std::int64_t{std::numeric_limits<std::int32_t>::min()} - 1,
                                  std::int64_t{std::numeric_limits<std::uint32_t>::max()} + 1,
                                  std::numeric_limits<std::int64_t>::max(),
                                  std::numeric_limits<std::int64_t>::min()};
    for (const std::int64_t i : cases) {
      CAPTURE(i);
      const Value decoded = msgpack_round_trip(i);
      REQUIRE(decoded.is_int());
      CHECK(decoded.as_int() == i);
    }
  }

  TEST_CASE("integers are encoded in their smallest msgpack form and doubles as float64") {
    CHECK(to_msgpack(0) == Bytes{0x00});
    CHECK(to_msgpack(127) == Bytes{0x7f});
    CHECK(to_msgpack(-1) == Bytes{0xff});
    CHECK(to_msgpack(-32) == Bytes{0xe0});
    CHECK(to_msgpack(200) == Bytes{0xcc, 0xc8});
    CHECK(to_msgpack(-100) == Bytes{0xd0, 0x9c});
    CHECK(to_msgpack(1000) == Bytes{0xcd, 0x03, 0xe8});
    CHECK(to_msgpack(std::numeric_limits<std::int64_t>::min()) ==
          Bytes{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0});
    CHECK(to_msgpack(1.0) == Bytes{0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0});
    CHECK(to_msgpack(Value()) == Bytes{0xc0});
    CHECK(to_msgpack(true) == Bytes{0xc3});
    CHECK(to_msgpack(false) == Bytes{0xc2});
  }

  TEST_CASE("strings, binary and containers use the msgpack str, bin, array and map formats") {
    CHECK(to_msgpack("ab") == Bytes{0xa2, 'a', 'b'});
    CHECK(to_msgpack(Binary{{7, 8}}) == Bytes{0xc4, 0x02, 7, 8});
    CHECK(to_msgpack(Binary{}) == Bytes{0xc4, 0x00});
    CHECK(to_msgpack(Value::array({1, 2})) == Bytes{0x92, 0x01, 0x02});
    CHECK(to_msgpack(Value::object({{"a", 1}})) == Bytes{0x81, 0xa1, 'a', 0x01});
    CHECK(to_msgpack(Value(Array{})) == Bytes{0x90});
    CHECK(to_msgpack(Value(Map{})) == Bytes{0x80});
  }

  TEST_CASE("binary with all 256 byte values and empty binary round-trip through msgpack") {
    const Value bytes(all_bytes());
    const Value decoded = msgpack_round_trip(bytes);
    CHECK(decoded == bytes);
    CHECK(decoded.as_binary().bytes.size() == 256);
    CHECK(msgpack_round_trip(Binary{}) == Value(Binary{}));
    CHECK(msgpack_round_trip(Binary{}).is_binary());
  }

  TEST_CASE("nested arrays and maps, including empty ones, round-trip through msgpack") {
    CHECK(msgpack_round_trip(sample()) == sample());
    CHECK(msgpack_round_trip(Value(Array{})) == Value(Array{}));
    CHECK(msgpack_round_trip(Value(Map{})) == Value(Map{}));
    CHECK(msgpack_round_trip(Value::array({Value(Array{}), Value(Map{}), Binary{}})) ==
          Value::array({Value(Array{}), Value(Map{}), Binary{}}));
    Array big;
    for (int i = 0; i < 70000; ++i)
      big.emplace_back(i);
    CHECK(msgpack_round_trip(Value(big)) == Value(big));
  }

  TEST_CASE("empty input is an error") {
    const Error error = msgpack_error({});
    CHECK(contains(error.message, "empty input"));
  }

  TEST_CASE("every truncation of a valid encoding is an error that says truncated") {
    const Bytes full = to_msgpack(sample());
    for (std::size_t cut = 1; cut < full.size(); ++cut) {
      CAPTURE(cut);
      const Error error = msgpack_error(Bytes(full.begin(), full.begin() + static_cast<long>(cut)));
      CHECK(contains(error.message, "truncated"));
    }
  }

  TEST_CASE("trailing bytes after the object are an error naming their count and offset") {
    Bytes bytes = to_msgpack(Value::array({1, 2})); // 3 bytes
    bytes.push_back(0xc0);
    bytes.push_back(0x01);
    const Error error = msgpack_error(bytes);
    CHECK(error.message ==
          "msgpack: trailing 2 bytes after offset 3 (the end of the first object)");
  }

  TEST_CASE("a non-string map key is an error naming its type and place") {
    const Error top = msgpack_error({0x81, 0x01, 0x02}); // {1: 2}
    CHECK(contains(top.message, "map key"));
    CHECK(contains(top.message, "int, not str"));
    CHECK(contains(top.message, "at $"));
    // {"a": [{nil: 1}]}: the path leads to the offending map.
    const Error nested = msgpack_error({0x81, 0xa1, 'a', 0x91, 0x81, 0xc0, 0x01});
    CHECK(contains(nested.message, "nil, not str"));
    CHECK(contains(nested.message, "at $.a[0]"));
    // Keys that are no identifiers are quoted in the path.
    const Error quoted = msgpack_error({0x81, 0xa3, 'a', ' ', 'b', 0x81, 0xc3, 0x01});
    CHECK(contains(quoted.message, "at $[\"a b\"]"));
    // A huge key is shortened in the path.
    Bytes long_key{0x81, 0xda, 0x27, 0x10}; // str16 of 10000 bytes
    long_key.insert(long_key.end(), 10000, 'k');
    long_key.insert(long_key.end(), {0x81, 0x01, 0x01});
    const Error shortened = msgpack_error(long_key);
    CHECK(contains(shortened.message, "at $[\"kkk"));
    CHECK(contains(shortened.message, "...]"));
    CHECK(shortened.message.size() < 200);
  }

  TEST_CASE("a duplicate map key is an error rather than a silent choice") {
    const Error error = msgpack_error({0x82, 0xa1, 'k', 0x01, 0xa1, 'k', 0x02});
    CHECK(contains(error.message, "duplicate map key at $.k"));
  }

  TEST_CASE("ext types are refused with their type number") {
    const Error fixext = msgpack_error({0xd4, 0x05, 0x00});
    CHECK(fixext.message == "msgpack: ext type 5 (1 byte) is not supported at $");
    // A timestamp (ext -1) inside an array.
    const Error timestamp = msgpack_error({0x91, 0xd6, 0xff, 0, 0, 0, 1});
    CHECK(contains(timestamp.message, "ext type -1"));
    CHECK(contains(timestamp.message, "$[0]"));
  }

  TEST_CASE("an unsigned integer above INT64_MAX is an error, INT64_MAX itself is fine") {
    const Error error = msgpack_error({0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0});
    CHECK(contains(error.message, "9223372036854775808"));
    CHECK(contains(error.message, "INT64_MAX"));
    const Error max = msgpack_error({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    CHECK(contains(max.message, "18446744073709551615"));
    Result<Value> fits = from_msgpack(Bytes{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    REQUIRE(fits.ok());
    CHECK(fits->as_int() == std::numeric_limits<std::int64_t>::max());
    // Other encoders may write small numbers as uint64; they are ordinary ints.
    Result<Value> wide_one = from_msgpack(Bytes{0xcf, 0, 0, 0, 0, 0, 0, 0, 1});
    REQUIRE(wide_one.ok());
    CHECK(*wide_one == Value(1));
  }

  TEST_CASE("float32 from other encoders is accepted as a double") {
    Result<Value> decoded = from_msgpack(Bytes{0xca, 0x3f, 0xc0, 0x00, 0x00}); // 1.5f
    REQUIRE(decoded.ok());
    CHECK(decoded->is_double());
    CHECK(decoded->as_double() == 1.5);
  }

  TEST_CASE("a deep nesting bomb is an error, not a stack overflow") {
    const Bytes bomb(100000, 0x91); // [[[[...
    const Error error = msgpack_error(bomb);
    CHECK(contains(error.message, "nesting deeper than 256 levels"));
    Bytes map_bomb;
    for (int i = 0; i < 100000; ++i) {
      map_bomb.push_back(0x81);
      map_bomb.push_back(0xa1);
      map_bomb.push_back('k');
    }
    CHECK(contains(msgpack_error(map_bomb).message, "nesting deeper"));
  }

  TEST_CASE("nesting of exactly 256 levels decodes and 257 does not") {
    Bytes ok(256, 0x91);
    ok.push_back(0xc0);
    Result<Value> decoded = from_msgpack(ok);
    REQUIRE(decoded.ok());
    int depth = 0;
    for (const Value* v = &*decoded; v->is_array(); v = &v->at(std::size_t{0}))
      ++depth;
    CHECK(depth == 256);
    Bytes too_deep(257, 0x91);
    too_deep.push_back(0xc0);
    CHECK(contains(msgpack_error(too_deep).message, "nesting deeper"));
  }

  TEST_CASE("a container header announcing more than the input can hold is refused up front") {
    // Without a limit msgpack-c would reserve room for 4 billion objects here.
    CHECK(contains(msgpack_error({0xdd, 0xff, 0xff, 0xff, 0xff}).message, "array header"));
    CHECK(contains(msgpack_error({0xdf, 0xff, 0xff, 0xff, 0xff}).message, "map header"));
    // A big str header is simply short of bytes.
    CHECK(contains(msgpack_error({0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}).message, "truncated"));
  }

  TEST_CASE("the never-used byte 0xc1 is an error") {
    CHECK(contains(msgpack_error({0xc1}).message, "0xc1"));
    CHECK(contains(msgpack_error({0x92, 0x01, 0xc1}).message, "0xc1"));
  }

} // TEST_SUITE("msgpack")

TEST_SUITE("JSON") {

  TEST_CASE("values without binary or non-finite doubles round-trip through JSON") {
    const Value v = Value::object({
        {"null", nullptr},
        {"flags", Value::array({true, false})},
        {"int", -42},
        {"big", std::numeric_limits<std::int64_t>::max()},
        {"small", std::numeric_limits<std::int64_t>::min()},
        {"real", 2.5},
        {"whole", 2.0},
        {"tiny", 1e-300},
        {"text", "quote \" backslash \\ newline \n tab \t \xe2\x9c\x93 \x01"},
        {"empty", Value::array({Value(Array{}), Value(Map{}), ""})},
        {"nested", Value::object({{"a", Value::object({{"b", Value::array({1, 2})}})}})},
    });
    Result<Value> compact = from_json(to_json(v));
    REQUIRE_MESSAGE(compact.ok(), compact.error().to_string());
    CHECK(*compact == v);
    Result<Value> pretty = from_json(to_json(v, 2));
    REQUIRE(pretty.ok());
    CHECK(*pretty == v);
    CHECK(compact->at("whole").is_double());
    CHECK(compact->at("int").is_int());
  }

  TEST_CASE("to_json writes compact JSON by default and indents on request") {
    const Value v = Value::object({{"a", 1}, {"b", Value::array({true, nullptr, 1.5, "x"})}});
    CHECK(to_json(v) == R"({"a":1,"b":[true,null,1.5,"x"]})");
    CHECK(to_json(v, -5) == to_json(v));
    CHECK(to_json(Value::object({{"a", 1}}), 2) == "{\n  \"a\": 1\n}");
    CHECK(to_json(Value(2.0)) == "2.0");
    CHECK(to_json(Value(2)) == "2");
  }

  TEST_CASE("binary becomes a base64 string in JSON") {
    CHECK(to_json(Binary{}) == "\"\"");
    const std::string vectors[][2] = {{"f", "Zg=="},         {"fo", "Zm8="},
                                      {"foo", "Zm9v"},       {"foob", "Zm9vYg=="},
                                      {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
      CAPTURE(plain);
      const Binary binary{std::vector<std::uint8_t>(plain.begin(), plain.end())};
      CHECK(to_json(binary) == "\"" + encoded + "\"");
    }
    const std::string all = to_json(all_bytes());
    CHECK(all.size() == 2 + 344);
    CHECK(all.substr(all.size() - 6) == "+/w==\"");
    Result<Value> back = from_json(to_json(Value::object({{"b", Binary{{'h', 'i'}}}})));
    REQUIRE(back.ok());
    CHECK(back->at("b") == Value("aGk="));
  }

  TEST_CASE("NaN and infinity become null in JSON") {
    CHECK(to_json(std::nan("")) == "null");
    CHECK(to_json(std::numeric_limits<double>::infinity()) == "null");
    CHECK(to_json(Value::array({-std::numeric_limits<double>::infinity(), 1})) == "[null,1]");
  }

  TEST_CASE("invalid UTF-8 in a string is replaced rather than thrown when writing JSON") {
    std::string text;
    CHECK_NOTHROW(text = to_json(Value("ok \xff end")));
    CHECK(text == "\"ok \xef\xbf\xbd end\"");
  }

  TEST_CASE("JSON integers that fit int64 stay int64, larger ones and fractions become double") {
    Result<Value> v = from_json(
        R"([0, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808,
          18446744073709551615, 100000000000000000000, 1.0, 1e2, -0.5])");
    REQUIRE(v.ok());
    const Array& a = v->as_array();
    REQUIRE(a.size() == 10);
    CHECK(a[0] == Value(0));
    CHECK(a[1] == Value(-1));
    CHECK(a[2] == Value(std::numeric_limits<std::int64_t>::max()));
    CHECK(a[3] == Value(std::numeric_limits<std::int64_t>::min()));
    CHECK(a[4] == Value(9223372036854775808.0));
    CHECK(a[5] == Value(18446744073709551615.0));
    CHECK(a[6] == Value(1e20));
    CHECK(a[7] == Value(1.0));
    CHECK(a[8] == Value(100.0));
    CHECK(a[9] == Value(-0.5));
  }

  TEST_CASE("JSON strings, escapes and scalars at the top level parse") {
    CHECK(*from_json(R"("\u00e9\n")") == Value("\xc3\xa9\n"));
    CHECK(*from_json("  true  ") == Value(true));
    CHECK(*from_json("null") == Value());
    CHECK(*from_json("{}") == Value(Map{}));
    CHECK(*from_json("[]") == Value(Array{}));
  }

  TEST_CASE("a repeated JSON key keeps the last value") {
    Result<Value> v = from_json(R"({"k": 1, "k": 2})");
    REQUIRE(v.ok());
    CHECK(*v == Value::object({{"k", 2}}));
  }

  TEST_CASE("JSON parse errors are bad_input and give line and column") {
    const Error syntax = json_error("{\"a\": x}");
    CHECK(contains(syntax.message, "line 1, column 7"));
    CHECK(syntax.message.rfind("JSON: ", 0) == 0);
    const Error second_line = json_error("[1,\n 2,,]");
    CHECK(contains(second_line.message, "line 2"));
    CHECK(contains(json_error("").message, "column"));
    CHECK(contains(json_error("1 2").message, "end of input"));
    CHECK(contains(json_error("[1, 2").message, "column"));
    CHECK(contains(json_error("\"\xff\"").message, "column"));
    // Out-of-range numbers have no line and column of their own; the byte offset stands in.
    const Error overflow = json_error("[1, 1e400]");
    CHECK(contains(overflow.message, "1e400"));
    CHECK(contains(overflow.message, "at byte 9"));
  }

  TEST_CASE("deeply nested JSON is an error, not a stack overflow") {
    const Error bomb = json_error(std::string(100000, '['));
    CHECK(contains(bomb.message, "nesting deeper than 256 levels"));
    const std::string ok = std::string(256, '[') + std::string(256, ']');
    CHECK(from_json(ok).ok());
    const std::string too_deep = std::string(257, '[') + std::string(257, ']');
    CHECK(contains(json_error(too_deep).message, "nesting deeper"));
  }

} // TEST_SUITE("JSON")
