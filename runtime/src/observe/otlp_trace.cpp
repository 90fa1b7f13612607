#include "observe/otlp_trace.hpp"

#include <mutex>
#include <random>

namespace actorflow::detail {

namespace {

/// splitmix64's finaliser: a bijection on 64 bits, so distinct inputs stay distinct.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/// Random 64-bit numbers for trace ids and salts, seeded once from the system.
std::uint64_t random64() {
  static std::mutex mutex;
  static std::mt19937_64 engine{[] {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }()};
  std::lock_guard lock{mutex};
  return engine();
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; // W3C trace context is lower-case hex only
}

/// `text` (2 * n lower-case hex digits) into n bytes; false when it is not that.
bool from_hex(std::string_view text, std::uint8_t* out, std::size_t n) {
  if (text.size() != 2 * n)
    return false;
  for (std::size_t i = 0; i < n; ++i) {
    const int high = hex_digit(text[2 * i]);
    const int low = hex_digit(text[2 * i + 1]);
    if (high < 0 || low < 0)
      return false;
    out[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

bool all_zero(const std::uint8_t* bytes, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (bytes[i] != 0)
      return false;
  return true;
}

} // namespace

std::uint64_t OtlpTrace::span_id(std::uint64_t local) const noexcept {
  if (local == 0)
    return root_parent;
  const auto id = mix(salt + local);
  return id == 0 ? 1 : id; // 0 is "no span" in OTLP; one in 2^64 salts would make it
}

Result<TraceParent> parse_traceparent(std::string_view text) {
  auto bad = [&](const char* why) {
    return Error{Errc::bad_input,
                 "trace_parent '" + std::string(text.substr(0, 80)) + "': " + why +
                     " (want a W3C traceparent: 00-<32 hex digits>-<16 hex digits>-<2 hex "
                     "digits>)"};
  };
  if (text.size() != 55 || text[2] != '-' || text[35] != '-' || text[52] != '-')
    return bad("not of the form");
  std::uint8_t version = 0;
  std::uint8_t flags = 0;
  TraceParent parent;
  std::array<std::uint8_t, 8> span{};
  if (!from_hex(text.substr(0, 2), &version, 1) ||
      !from_hex(text.substr(3, 32), parent.trace_id.data(), 16) ||
      !from_hex(text.substr(36, 16), span.data(), 8) || !from_hex(text.substr(53, 2), &flags, 1))
    return bad("not lower-case hex digits");
  if (version == 0xff)
    return bad("version ff is invalid");
  if (all_zero(parent.trace_id.data(), 16) || all_zero(span.data(), 8))
    return bad("an all-zero id is invalid");
  for (auto byte : span)
    parent.span_id = (parent.span_id << 8) | byte;
  parent.sampled = (flags & 1) != 0;
  return parent;
}

OtlpTracePtr new_trace(std::string run_id, const std::optional<TraceParent>& parent) {
  auto trace = std::make_shared<OtlpTrace>();
  if (parent) {
    trace->trace_id = parent->trace_id;
    trace->root_parent = parent->span_id;
  } else {
    for (int half = 0; half < 2; ++half) {
      auto bits = random64();
      for (int i = 0; i < 8; ++i, bits >>= 8)
        trace->trace_id[static_cast<std::size_t>(half * 8 + i)] = static_cast<std::uint8_t>(bits);
    }
  }
  trace->salt = random64();
  trace->origin = std::chrono::system_clock::now();
  trace->run_id = std::move(run_id);
  return trace;
}

std::string traceparent_of(const OtlpTrace& trace, std::uint64_t local) {
  return "00-" + to_hex(trace.trace_id) + "-" + to_hex(trace.span_id(local)) + "-01";
}

std::string to_hex(const std::array<std::uint8_t, 16>& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

std::string to_hex(std::uint64_t id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, id >>= 4)
    out[static_cast<std::size_t>(i)] = digits[id & 15];
  return out;
}

} // namespace actorflow::detail
