#include "core/nesting.hpp"

namespace actorflow {

bool detail::json_too_deep(std::string_view text) {
  std::size_t depth = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    switch (text[at]) {
      case '"': // skip the string, escapes and all
        for (++at; at < text.size() && text[at] != '"'; ++at)
          if (text[at] == '\\')
            ++at;
        break;
      case '[':
      case '{':
        if (++depth > max_nesting)
          return true;
        break;
      case ']':
      case '}':
        depth -= depth > 0 ? 1 : 0;
        break;
      default:
        break;
    }
  }
  return false;
}

} // namespace actorflow
