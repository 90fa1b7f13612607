// The directory reader: which files it reads, how it decodes them, what it skips and why.

#include <actorflow/ingest/reader.hpp>

#include "core/text.hpp"
#include "ingest/file_bytes.hpp"
#include "ingest/ingest_support.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

namespace actorflow {

using detail::bad_input;
using detail::Contents;
using detail::in_quotes;
using detail::read_file;

namespace fs = std::filesystem;

// -- directory reader -----------------------------------------------------------------------

namespace {

// The offset of the first byte that makes `text` invalid UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF), or nullopt.
std::optional<std::size_t> invalid_utf8_at(std::string_view text) {
  const auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char min_second = 0x80;
    unsigned char max_second = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      min_second = lead == 0xE0 ? 0xA0 : 0x80; // E0 80..9F would be overlong
      max_second = lead == 0xED ? 0x9F : 0xBF; // ED A0..BF would be a surrogate
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      min_second = lead == 0xF0 ? 0x90 : 0x80; // F0 80..8F would be overlong
      max_second = lead == 0xF4 ? 0x8F : 0xBF; // F4 90.. would be above U+10FFFF
    } else {
      return i; // a stray continuation byte, C0/C1 (overlong) or F5..FF
    }
    if (i + 1 >= text.size() || byte(i + 1) < min_second || byte(i + 1) > max_second)
      return i;
    for (std::size_t k = 2; k < length; ++k)
      if (i + k >= text.size() || !detail::is_utf8_continuation(text[i + k]))
        return i;
    i += length;
  }
  return std::nullopt;
}

std::string hex_byte(unsigned char b) {
  constexpr std::string_view digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4U] + digits[b & 0xFU];
}

// Why `text` is not a text document, or "" if it is one.
std::string binary_reason(std::string_view text) {
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos)
    return "binary: NUL byte at offset " + std::to_string(nul);
  if (const auto bad = invalid_utf8_at(text))
    return "not UTF-8 text: invalid byte " + hex_byte(static_cast<unsigned char>(text[*bad])) +
           " at offset " + std::to_string(*bad);
  return {};
}

std::string iso_utc(fs::file_time_type time) {
  using namespace std::chrono;
  const auto seconds = floor<std::chrono::seconds>(file_clock::to_sys(time));
  const auto day = floor<days>(seconds);
  const year_month_day date{day};
  const hh_mm_ss time_of_day{seconds - day};
  std::array<char, 32> out{};
  std::snprintf(out.data(), out.size(), "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time_of_day.hours().count()),
                static_cast<int>(time_of_day.minutes().count()),
                static_cast<int>(time_of_day.seconds().count()));
  return out.data();
}

// One selected file as a document with id `id`, or (bad_input) why the reader skips it.
Result<IngestItem> document_of(const fs::path& path, std::string id, const std::string& name,
                               std::uint64_t max_file_bytes) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec)
    return Error{Errc::bad_input, "cannot stat: " + ec.message()};
  if (size > max_file_bytes)
    return Error{Errc::bad_input, "larger than max_file_bytes (" + std::to_string(size) + " > " +
                                      std::to_string(max_file_bytes) + " bytes)"};
  Contents contents = read_file(path, max_file_bytes);
  if (!contents.failed.empty())
    return Error{Errc::bad_input, contents.reason.empty()
                                      ? contents.failed
                                      : contents.failed + ": " + contents.reason};
  if (std::string reason = binary_reason(contents.bytes); !reason.empty())
    return Error{Errc::bad_input, std::move(reason)};
  IngestItem doc;
  doc.id = std::move(id);
  doc.metadata.emplace("file_path", fs::absolute(path).lexically_normal().string());
  doc.metadata.emplace("file_name", name);
  doc.metadata.emplace("extension", file_extension(name));
  doc.metadata.emplace("size_bytes", static_cast<std::int64_t>(contents.bytes.size()));
  if (const auto modified = fs::last_write_time(path, ec); !ec)
    doc.metadata.emplace("modified", iso_utc(modified));
  constexpr std::string_view bom = "\xEF\xBB\xBF";
  doc.text = std::move(contents.bytes);
  if (doc.text.starts_with(bom))
    doc.text.erase(0, bom.size());
  return doc;
}

class DirectoryReader {
public:
  DirectoryReader(const DirectoryReaderOptions& options, fs::path root)
      : options_(options), root_(std::move(root)) {
    for (const std::string& extension : options_.extensions)
      extensions_.insert(detail::to_lower(extension));
  }

  // Reads everything under the root; an error only if the root itself cannot be listed.
  Result<DirectoryReadResult> read() && {
    std::error_code ec;
    const fs::path real = fs::canonical(root_, ec);
    first_path_[real.string()] = ".";
    if (auto listed = walk(root_, ""); !listed)
      return bad_input("read_directory: cannot list " + in_quotes(root_.string()) + ": " +
                       listed.error().message);
    auto by_id = [](const IngestItem& a, const IngestItem& b) { return a.id < b.id; };
    std::sort(out_.documents.begin(), out_.documents.end(), by_id);
    std::sort(out_.skipped.begin(), out_.skipped.end(),
              [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
    return std::move(out_);
  }

private:
  // Reads directory `dir`, whose id prefix is `prefix` ("" or "notes/"); an error only when
  // `dir` cannot be listed.
  Result<void> walk(const fs::path& dir, const std::string& prefix) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    std::vector<fs::directory_entry> entries;
    for (; !ec && it != fs::directory_iterator(); it.increment(ec))
      entries.push_back(*it);
    if (ec)
      return Error{Errc::bad_input, ec.message()};
    // Sorted, so that which of two links to a directory wins does not depend on the listing.
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.path().filename() < b.path().filename();
    });
    for (const fs::directory_entry& entry : entries)
      visit(entry, prefix);
    return {};
  }

  void visit(const fs::directory_entry& entry, const std::string& prefix) {
    const std::string name = entry.path().filename().string();
    const std::string id = prefix + name;
    if (options_.exclude_hidden && name.starts_with('.'))
      return;
    std::error_code ec;
    const bool is_link = entry.is_symlink(ec);
    const fs::file_status status = fs::status(entry.path(), ec); // follows symlinks
    if (fs::is_directory(status)) {
      if (options_.recursive)
        visit_directory(entry.path(), id, is_link);
      return;
    }
    if (!selected(name))
      return;
    if (!fs::exists(status)) {
      skip(id, is_link ? "broken symlink" : "cannot stat: " + ec.message());
      return;
    }
    if (!fs::is_regular_file(status)) {
      skip(id, "not a regular file");
      return;
    }
    read_document(entry.path(), id, name);
  }

  void visit_directory(const fs::path& path, const std::string& id, bool is_link) {
    if (is_link && !options_.follow_directory_symlinks) {
      skip(id, "symlink to a directory, not followed (see follow_directory_symlinks)");
      return;
    }
    std::error_code ec;
    const fs::path real = fs::canonical(path, ec);
    if (ec) {
      skip(id, "cannot resolve: " + ec.message());
      return;
    }
    const auto [first, inserted] = first_path_.try_emplace(real.string(), id);
    if (!inserted) {
      skip(id, "directory already read as " + in_quotes(first->second) +
                   " (a symlink loop or a "
                   "second link)");
      return;
    }
    if (auto listed = walk(path, id + "/"); !listed)
      skip(id, "cannot list directory: " + listed.error().message);
  }

  [[nodiscard]] bool selected(const std::string& name) const {
    return options_.extensions.empty() ||
           extensions_.contains(detail::to_lower(file_extension(name)));
  }

  void read_document(const fs::path& path, const std::string& id, const std::string& name) {
    auto doc = document_of(path, id, name, options_.max_file_bytes);
    if (doc)
      out_.documents.push_back(std::move(*doc));
    else
      skip(id, std::move(doc.error().message));
  }

  void skip(const std::string& id, std::string reason) {
    out_.skipped.push_back({id, std::move(reason)});
  }

  const DirectoryReaderOptions& options_;
  std::set<std::string, std::less<>> extensions_; // options_.extensions, lowercased
  fs::path root_;
  std::map<std::string, std::string, std::less<>> first_path_; // real directory -> first id
  DirectoryReadResult out_;
};

} // namespace

std::string file_extension(std::string_view file_name) {
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == file_name.size() ||
      !detail::is_ascii_letter(file_name[dot + 1]))
    return {};
  return std::string(file_name.substr(dot));
}

Result<IngestItem> read_text_file(const std::string& path, const DirectoryReaderOptions& options) {
  const fs::path file{path};
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return Error{Errc::bad_input, "read_text_file: " + in_quotes(path) + " is not a file"};
  auto name = file.filename().string();
  auto doc = document_of(file, name, name, options.max_file_bytes);
  if (!doc)
    return Error{Errc::bad_input,
                 "read_text_file: " + in_quotes(path) + ": " + doc.error().message};
  return doc;
}

Result<DirectoryReadResult> read_directory(const std::string& root,
                                           const DirectoryReaderOptions& options) {
  std::error_code ec;
  const fs::file_status status = fs::status(root, ec);
  if (!fs::exists(status))
    return bad_input("read_directory: " + in_quotes(root) + " does not exist");
  if (!fs::is_directory(status))
    return bad_input("read_directory: " + in_quotes(root) + " is not a directory");
  return DirectoryReader(options, fs::path(root)).read();
}

} // namespace actorflow
