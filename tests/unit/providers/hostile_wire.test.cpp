// Regressions of what a fuzz run found in the model wire, where a hostile or broken server
// controls every byte: waits that overflowed or went negative, embeddings beyond float, SSE
// streams with CRLF or without end, and JSON nested without limit.
#include "providers/openai_wire.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace actorflow;
using namespace std::chrono_literals;

TEST_CASE("server-given waits are clamped to a day and never negative") {
  // Overflowed int64 (undefined behaviour) before.
  CHECK(wire::parse_duration("4467440737099h") == wire::max_server_wait);
  CHECK(wire::parse_duration("99999999999999999999999s") == wire::max_server_wait);
  CHECK(wire::parse_duration("1h1h1h") == 3h); // below the cap, exact
  // Parsed as -1 ms before.
  CHECK(wire::parse_retry_after({{"retry-after-ms", "18446744073709551615"}}) ==
        wire::max_server_wait);
  CHECK(wire::parse_retry_after({{"retry-after", "9300000000000000"}}) == wire::max_server_wait);
  CHECK(wire::parse_retry_after({{"retry-after", "86401"}}) == wire::max_server_wait);
  CHECK(wire::parse_retry_after({{"retry-after", "2"}}) == 2s);
  for (const char* text : {"1h", "18446744073709551615ms", "0.000001ms"}) {
    auto d = wire::parse_duration(text);
    REQUIRE(d);
    CHECK(*d >= 0ms);
    CHECK(*d <= wire::max_server_wait);
  }
  auto limits = wire::parse_rate_limits({{"x-ratelimit-reset-tokens", "9999999999999999h"}});
  CHECK(limits.reset_tokens == wire::max_server_wait);
}

TEST_CASE("an embedding value beyond float's range is a bad response naming it") {
  auto r = wire::decode_embed_response(R"({"data":[{"index":0,"embedding":[0.5, 1e39]}]})", 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_response);
  CHECK(r.error().message.find("data[0].embedding") != std::string::npos);
  CHECK(r.error().message.find("beyond the range of float") != std::string::npos);
  auto edge = wire::decode_embed_response(R"({"data":[{"embedding":[-3.0e38, 3.0e38]}]})", 1);
  REQUIRE(edge.ok());
  CHECK(edge->vectors[0].size() == 2);
}

namespace {

std::string chunk(std::string_view text) {
  return wire::encode_chat_chunk("c", 0, "m", {.text = std::string(text)}, std::nullopt,
                                 std::nullopt);
}

// The stream with every LF replaced by `eol`.
std::string with_line_ends(const std::string& stream, std::string_view eol) {
  std::string out;
  for (char c : stream) {
    if (c == '\n')
      out.append(eol);
    else
      out.push_back(c);
  }
  return out;
}

} // namespace

TEST_CASE("SSE streams with CRLF or CR line ends are read, cut anywhere") {
  std::string lf = chunk("Hello") + chunk(" world") +
                   wire::encode_chat_chunk("c", 0, "m", {}, "stop", std::nullopt) +
                   std::string(wire::sse_done());
  for (std::string_view eol : {"\r\n", "\r"}) {
    const std::string stream = with_line_ends(lf, eol);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      CAPTURE(cut);
      wire::ChatStreamDecoder decoder;
      std::string text;
      auto on_piece = [&](std::string_view p) { text += p; };
      REQUIRE(decoder.feed(std::string_view(stream).substr(0, cut), on_piece).ok());
      REQUIRE(decoder.feed(std::string_view(stream).substr(cut), on_piece).ok());
      auto r = decoder.finish();
      REQUIRE_MESSAGE(r.ok(), r.error().to_string());
      CHECK(text == "Hello world");
    }
  }
}

TEST_CASE("an SSE line or event that never ends fails at its cap, however it is cut") {
  wire::ChatStreamDecoder decoder;
  const std::string piece(1 << 20, 'x'); // a MiB, no line end
  auto on_piece = [](std::string_view) {};
  std::size_t fed = 0;
  Result<void> last = decoder.feed("data: ", on_piece);
  while (last.ok() && fed <= wire::ChatStreamDecoder::max_event_bytes + piece.size()) {
    last = decoder.feed(piece, on_piece);
    fed += piece.size();
  }
  REQUIRE_FALSE(last.ok());
  CHECK(last.error().code == Errc::bad_response);
  CHECK(last.error().message.find("larger than 16 MiB") != std::string::npos);
  CHECK(fed == wire::ChatStreamDecoder::max_event_bytes); // failed before copying the piece over
  // Fed at once, it fails the same, before copying any of it.
  wire::ChatStreamDecoder at_once;
  auto all = at_once.feed(std::string(wire::ChatStreamDecoder::max_event_bytes + 1, 'z'), on_piece);
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().message.find("larger than 16 MiB") != std::string::npos);
  // Data lines that each end, in an event that does not, count together.
  wire::ChatStreamDecoder lines;
  Result<void> more = {};
  const std::string line = "data: " + std::string(1 << 20, 'y') + "\n";
  for (int i = 0; i < 20 && more.ok(); ++i)
    more = lines.feed(line, on_piece);
  REQUIRE_FALSE(more.ok());
  CHECK(more.error().message.find("larger than") != std::string::npos);
}

TEST_CASE("an event's data lines are joined into one chunk") {
  wire::ChatStreamDecoder decoder;
  std::string text;
  const std::string event = "data: {\"choices\":[{\"index\":0,\n"
                            "data: \"delta\":{\"content\":\"joined\"}}]}\n\n";
  REQUIRE(
      decoder.feed(event + std::string(wire::sse_done()), [&](std::string_view p) { text += p; })
          .ok());
  CHECK(text == "joined");
}

TEST_CASE("wire JSON nested deeper than 256 levels is a bad response, not an 80 MiB tree") {
  auto deep = std::string(1'000'000, '[');
  auto r = wire::decode_embed_response(deep, 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_response);
  CHECK(r.error().message.find("deeper than 256") != std::string::npos);
  auto chat = wire::decode_chat_response("{\"a\":" + std::string(300, '[') + "}");
  REQUIRE_FALSE(chat.ok());
  CHECK(chat.error().message.find("deeper than 256") != std::string::npos);
  CHECK_FALSE(wire::decode_error_message(std::string(100'000, '{')));
}

TEST_CASE("a reset duration reads back as written, not a millisecond more") {
  // "2.007s" is 2007.0000000000002 ms in doubles; rounded up, it read as 2008 ms.
  CHECK(wire::parse_duration("2.007s") == 2007ms);
  for (std::int64_t ms = 0; ms <= 200'000; ++ms) {
    const std::chrono::milliseconds d(ms);
    if (wire::parse_duration(wire::format_duration(d)) != d) {
      CAPTURE(wire::format_duration(d));
      FAIL("does not read back: " << ms << " ms");
    }
  }
}

TEST_CASE("a wait with more digits than 64 bits or a double hold is long, not absent") {
  const std::string huge(400, '9');
  CHECK(wire::parse_retry_after({{"retry-after-ms", huge}}) == wire::max_server_wait);
  CHECK(wire::parse_retry_after({{"retry-after", huge}}) == wire::max_server_wait);
  CHECK(wire::parse_duration(huge + "s") == wire::max_server_wait);
  // All zeros before the point: vanishing, not long.
  CHECK(wire::parse_duration("0." + std::string(400, '0') + "1s") == 0ms);
  CHECK_FALSE(wire::parse_retry_after({{"retry-after", "-5"}}));
}

TEST_CASE("a stream whose answer grows past 64 MiB over many events fails, naming the cap") {
  wire::ChatStreamDecoder decoder;
  const std::string piece(1 << 20, 'w'); // a MiB of text per event
  const std::string event = chunk(piece);
  Result<void> fed = {};
  std::size_t events = 0;
  while (fed.ok() && events <= 70) {
    fed = decoder.feed(event, [](std::string_view) {});
    ++events;
  }
  REQUIRE_FALSE(fed.ok());
  CHECK(events == 65); // 64 MiB are kept, the 65th MiB is refused
  CHECK(fed.error().message.find("grew past 64 MiB") != std::string::npos);
}
