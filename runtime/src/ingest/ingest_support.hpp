#pragma once
// Small helpers the ingestion sources share: the error of bad input, quoting, errno's message.

#include <actorflow/result.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace actorflow::detail {

inline Error bad_input(std::string message) { return Error{Errc::bad_input, std::move(message)}; }

// Built piece by piece: "'" + std::string(...) trips GCC 12's -Wrestrict once inlined at -O3.
inline std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out.append(text);
  out += '\'';
  return out;
}

// The message of the errno a failed C library call left, e.g. "No such file or directory".
inline std::string errno_message(int error) {
  return error != 0 ? std::generic_category().message(error) : "unknown error";
}

// The index of the first NaN or infinity in `embedding`, if any.
inline std::optional<std::size_t> first_non_finite(const std::vector<float>& embedding) {
  const auto it =
      std::find_if(embedding.begin(), embedding.end(), [](float x) { return !std::isfinite(x); });
  if (it == embedding.end())
    return std::nullopt;
  return static_cast<std::size_t>(it - embedding.begin());
}

} // namespace actorflow::detail
