#pragma once
// `actorflow demo`: the README's main job.

#include <string>

namespace actorflow::tools {

struct DemoOptions {
  std::string dir = "/usr/share/common-licenses";
  std::size_t workers = 0;
  std::size_t max_files = 200;
  bool json = false;
};

/// Runs the demo, prints its report; the process exit code.
int run_demo(const DemoOptions& options);

} // namespace actorflow::tools
