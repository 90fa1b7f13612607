#pragma once
// Process memory figures for the benchmarks.

#include <cstdint>

namespace actorflow::tools {

/// Peak resident set size of this process in KiB (VmHWM from /proc/self/status), or -1 where
/// that file or line is missing (non-Linux, restricted /proc). It is a high-water mark for the
/// whole process, so a bench that wants one scenario's peak must run it in a fresh process.
std::int64_t peak_rss_kb();

} // namespace actorflow::tools
