#pragma once
// Reading a whole file, with what failed and why, for the directory reader and item files.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace actorflow::detail {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// A file's bytes, or what failed. More than `max_bytes` is a failure too: the file may have
// grown since its size was checked.
struct Contents {
  std::string bytes;
  std::string failed; // "" when read, else what failed: "cannot open", "cannot read", ...
  std::string reason; // the system's words for the failure, if it has any
};

/// The bytes of the file at `path`, at most `max_bytes` of them.
Contents read_file(const std::filesystem::path& path, std::uint64_t max_bytes);

} // namespace actorflow::detail
