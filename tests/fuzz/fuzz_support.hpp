#pragma once
// What the libFuzzer harnesses share. A harness decodes the fuzzer's bytes as a peer or server
// would send them; decoding may fail (that is the point), but never crash, leak or hang, and
// where a format has an inverse, what decodes must encode and decode to the same again.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// A property that must hold: broken, it aborts, and libFuzzer keeps the input that broke it.
#define FUZZ_REQUIRE(condition)                                                                    \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #condition);        \
      std::abort();                                                                                \
    }                                                                                              \
  } while (false)

namespace actorflow::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

} // namespace actorflow::fuzz
