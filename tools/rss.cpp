#include "rss.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace actorflow::tools {

std::int64_t peak_rss_kb() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line)) {
    // The line reads "VmHWM:    12345 kB"; the kernel always reports this field in kB.
    if (line.rfind("VmHWM:", 0) != 0)
      continue;
    std::istringstream fields{line.substr(6)};
    std::int64_t kb = -1;
    if (fields >> kb)
      return kb;
    return -1;
  }
  return -1;
}

} // namespace actorflow::tools
