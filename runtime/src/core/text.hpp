#pragma once
/// Byte-level text helpers shared by the core (sentences, splitter, token estimator, local
/// model, value previews) and the HTTP client, so that each rule lives in one place.
///
/// Text is handled as bytes and independent of the locale: only ASCII letters have a case, and
/// every non-ASCII byte counts as part of a word (so UTF-8 letters stay inside their words).

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace actorflow::detail {

// -- bytes ----------------------------------------------------------------------------------
// Our own classification: <cctype> follows the C locale, and our results must not.

inline bool is_ascii_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_ascii_letter(char c) { return is_ascii_lower(c) || is_ascii_upper(c); }
inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
inline bool is_utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline bool is_word_byte(char c) {
  return is_ascii_letter(c) || is_ascii_digit(c) || is_non_ascii(c);
}
inline char ascii_lower(char c) { return is_ascii_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
inline char ascii_upper(char c) { return is_ascii_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// -- strings --------------------------------------------------------------------------------

/// `text` with ASCII letters lowercased.
inline std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), ascii_lower);
  return lower;
}

/// `text` without leading and trailing whitespace (`is_space`).
inline std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

/// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a UTF-8
/// character: all of `text` if it fits, else cut before the character that would not fit.
inline std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  std::size_t end = max_bytes;
  while (end > 0 && is_utf8_continuation(text[end]))
    --end; // text[end] continues a character: cut before that character starts
  return text.substr(0, end);
}

// -- hosts ----------------------------------------------------------------------------------

/// True for a host of this machine: 127.0.0.0/8, ::1 (bracketed or not) and "localhost".
inline bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// -- JSON -----------------------------------------------------------------------------------

/// `text` as a JSON string (quoted and escaped); bytes that are not UTF-8 (a server's garbled
/// answer quoted in an error) become U+FFFD, so the output always parses. Through nlohmann,
/// so that it escapes exactly as every other JSON this runtime writes.
std::string json_quote(std::string_view text);

} // namespace actorflow::detail
