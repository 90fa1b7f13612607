// State: immutability, structural sharing, lookups, equality and msgpack.

#include <actorflow/state.hpp>

#include "printers.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

using namespace actorflow;

namespace {

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

std::string at_error(const State& state, std::string_view key) {
  try {
    (void)state.at(key);
  } catch (const BadValueAccess& e) {
    return e.what();
  }
  FAIL("expected BadValueAccess");
  return {};
}

} // namespace

TEST_SUITE("State") {

  TEST_CASE("a default State is empty") {
    const State s;
    CHECK(s.empty());
    CHECK(s.size() == 0);
    CHECK(s.keys().empty());
    CHECK(s.find("k") == nullptr);
    CHECK_FALSE(s.contains("k"));
    CHECK(s.to_value() == Value(Map{}));
    CHECK(s == State());
    CHECK(contains(at_error(s, "k"), "'k'"));
    CHECK(contains(at_error(s, "k"), "empty"));
  }

  TEST_CASE("with returns a new State and leaves the original unchanged") {
    const State a;
    const State b = a.with("k", 1);
    const State c = b.with("k", "replaced");
    CHECK(a.empty());
    CHECK(b.size() == 1);
    CHECK(b.at("k") == Value(1));
    CHECK(c.size() == 1);
    CHECK(c.at("k") == Value("replaced"));
    CHECK(b != c);
  }

  TEST_CASE("copies and derived States share the values they did not change") {
    const State a = State().with("k", Value::array({1, 2, 3})).with("j", "text");
    const State copy = a; // NOLINT(performance-unnecessary-copy-initialization): the point
    CHECK(&copy.at("k") == &a.at("k"));
    const State b = a.with("other", 42);
    CHECK(&b.at("k") == &a.at("k"));
    CHECK(&b.at("j") == &a.at("j"));
    CHECK_FALSE(a.contains("other"));
    const State c = b.with("j", "new");
    CHECK(&c.at("k") == &a.at("k"));
    CHECK(&c.at("other") == &b.at("other"));
    CHECK(a.at("j") == Value("text"));
  }

  TEST_CASE("keys come out sorted whatever the insertion order") {
    const State s = State().with("m", 1).with("a", 2).with("z", 3).with("b", 4).with("aa", 5);
    CHECK(s.keys() == std::vector<std::string>{"a", "aa", "b", "m", "z"});
    CHECK(s.to_value() == Value::object({{"a", 2}, {"aa", 5}, {"b", 4}, {"m", 1}, {"z", 3}}));
  }

  TEST_CASE("a batch with applies every pair in order and the later pair wins") {
    const State base = State().with("keep", "kept").with("change", 1).with("zz", true);
    const State s = base.with({{"new", 1}, {"change", 2}, {"new", 3}, {"a", nullptr}});
    CHECK(s.keys() == std::vector<std::string>{"a", "change", "keep", "new", "zz"});
    CHECK(s.at("new") == Value(3));
    CHECK(s.at("change") == Value(2));
    CHECK(s.at("a").is_null());
    CHECK(&s.at("keep") == &base.at("keep"));
    CHECK(&s.at("zz") == &base.at("zz"));
    CHECK(base.at("change") == Value(1));
    CHECK_FALSE(base.contains("new"));
    CHECK(base.with(std::vector<std::pair<std::string, Value>>{}) == base);
  }

  TEST_CASE("a batch with equals the same updates applied one at a time") {
    std::vector<std::pair<std::string, Value>> updates;
    State one_by_one = State().with("x", 0).with("m", 0);
    const State start = one_by_one;
    for (int i = 0; i < 50; ++i) {
      std::string key = "k" + std::to_string((i * 7) % 23);
      updates.emplace_back(key, i);
      one_by_one = one_by_one.with(key, i);
    }
    CHECK(start.with(updates) == one_by_one);
  }

  TEST_CASE("without removes a key and returns the same State when the key is absent") {
    const State s = State().with("a", 1).with("b", 2).with("c", 3);
    const State removed = s.without("b");
    CHECK(removed.keys() == std::vector<std::string>{"a", "c"});
    CHECK(s.contains("b"));
    CHECK(&removed.at("a") == &s.at("a"));
    const State unchanged = s.without("nope");
    CHECK(unchanged == s);
    CHECK(&unchanged.at("b") == &s.at("b"));
    CHECK(s.without("a").without("b").without("c").empty());
  }

  TEST_CASE("a State built from a map holds the same members") {
    const Map map{{"b", 2}, {"a", Value::array({1})}};
    const State s(map);
    CHECK(s.size() == 2);
    CHECK(s.keys() == std::vector<std::string>{"a", "b"});
    CHECK(s.at("a") == Value::array({1}));
    CHECK(s.to_value() == Value(map));
    CHECK(State(Map{}).empty());
  }

  TEST_CASE("find, contains and get_or look keys up without throwing") {
    const State s = State().with("n", 7);
    REQUIRE(s.find("n") != nullptr);
    CHECK(*s.find("n") == Value(7));
    CHECK(s.find("m") == nullptr);
    CHECK(s.contains("n"));
    CHECK_FALSE(s.contains("m"));
    CHECK(s.get_or("n", 0) == Value(7));
    CHECK(s.get_or("m", "fallback") == Value("fallback"));
  }

  TEST_CASE("at on a missing key names the key and lists at most ten present keys") {
    State s;
    for (char c = 'a'; c <= 'o'; ++c) // 15 keys
      s = s.with(std::string(1, c) + "_key", 1);
    const std::string message = at_error(s, "missing");
    CHECK(contains(message, "'missing'"));
    CHECK(contains(message, "a_key, b_key"));
    CHECK(contains(message, "j_key"));
    CHECK_FALSE(contains(message, "k_key"));
    CHECK(contains(message, "and 5 more"));
    const std::string few = at_error(State().with("only", 1), "x");
    CHECK(contains(few, "present: only"));
    CHECK_FALSE(contains(few, "more"));
  }

  TEST_CASE("equality compares contents, not storage") {
    const State a = State().with("x", 1).with("y", "two");
    const State b = State().with("y", "two").with("x", 1);
    CHECK(a == b);
    CHECK(a != a.with("x", 1.0)); // int 1 is no double 1.0
    CHECK(a != a.with("z", 1));
    CHECK(a != a.without("x"));
    CHECK(a == a.with("x", 1));
  }

  TEST_CASE("a State survives a msgpack round trip") {
    const State s = State()
                        .with("text", "hello")
                        .with("n", -5)
                        .with("bytes", Binary{{0, 255}})
                        .with("nested", Value::object({{"list", Value::array({1.5, nullptr})}}))
                        .with("empty", Value(Map{}));
    const auto bytes = to_msgpack(s);
    CHECK(bytes == to_msgpack(s.to_value()));
    Result<State> decoded = state_from_msgpack(bytes);
    REQUIRE_MESSAGE(decoded.ok(), decoded.error().to_string());
    CHECK(*decoded == s);
    CHECK(decoded->keys() == s.keys());
    Result<State> empty = state_from_msgpack(to_msgpack(State()));
    REQUIRE(empty.ok());
    CHECK(empty->empty());
  }

  TEST_CASE("msgpack that is not a map is rejected as a State") {
    Result<State> array = state_from_msgpack(to_msgpack(Value::array({1})));
    REQUIRE_FALSE(array.ok());
    CHECK(array.error() == Error{Errc::bad_input, "State: expected a msgpack map, got array"});
    Result<State> number = state_from_msgpack(to_msgpack(3));
    REQUIRE_FALSE(number.ok());
    CHECK(number.error().message == "State: expected a msgpack map, got int64");
  }

  TEST_CASE("undecodable State bytes give the decoder's error with a State prefix") {
    std::vector<std::uint8_t> bytes = to_msgpack(State().with("k", "value"));
    bytes.pop_back();
    Result<State> decoded = state_from_msgpack(bytes);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == Errc::bad_input);
    CHECK(decoded.error().message.rfind("State: msgpack: truncated", 0) == 0);
  }

  TEST_CASE("threads deriving from one State never see each other's changes") {
    const State shared = State().with("base", 0);
    std::vector<State> results(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&shared, &results, t] {
        State mine = shared;
        for (int i = 0; i < 200; ++i)
          mine = mine.with("t" + std::to_string(t), i);
        results[static_cast<std::size_t>(t)] = mine;
      });
    for (auto& thread : threads)
      thread.join();
    CHECK(shared.keys() == std::vector<std::string>{"base"});
    for (int t = 0; t < 4; ++t) {
      const State& r = results[static_cast<std::size_t>(t)];
      CHECK(r.size() == 2);
      CHECK(r.at("t" + std::to_string(t)) == Value(199));
      CHECK(&r.at("base") == &shared.at("base"));
    }
  }

} // TEST_SUITE("State")
