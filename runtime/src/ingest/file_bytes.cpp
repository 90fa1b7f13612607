#include "ingest/file_bytes.hpp"

#include "ingest/ingest_support.hpp"

#include <array>
#include <cerrno>

namespace actorflow::detail {

Contents read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  errno = 0;
  const File file(std::fopen(path.c_str(), "rb"));
  if (!file)
    return {{}, "cannot open", errno_message(errno)};
  Contents contents;
  std::array<char, 64 * 1024> buffer{};
  while (true) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    contents.bytes.append(buffer.data(), n);
    if (contents.bytes.size() > max_bytes)
      return {{},
              "larger than max_file_bytes (" + std::to_string(max_bytes) +
                  " bytes): it grew while being read",
              {}};
    if (n < buffer.size())
      break;
  }
  if (std::ferror(file.get()) != 0)
    return {{}, "cannot read", errno_message(errno)};
  return contents;
}

} // namespace actorflow::detail
