#pragma once
// One line of a server-sent-event stream, as both the chat stream decoder and the MCP client
// read it. Internal.

#include <string>
#include <string_view>

namespace actorflow::wire {

/// Adds the value of `line`, when it is a "data:" field (one leading space dropped), to the
/// event's `data`, joined to earlier data lines by LF; `has_data` says whether it has any.
/// Other fields, and comments, are ignored. True when `line` was a data line.
inline bool add_sse_data(std::string_view line, std::string& data, bool& has_data) {
  if (!line.starts_with("data:"))
    return false;
  line.remove_prefix(5);
  if (!line.empty() && line.front() == ' ')
    line.remove_prefix(1);
  if (has_data)
    data += '\n';
  data.append(line);
  has_data = true;
  return true;
}

} // namespace actorflow::wire
