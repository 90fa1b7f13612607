#pragma once
/// Reading documents: every text file under a directory, or one file, with the reader's rules
/// for what it reads, skips and why. Deterministic; reads the file system and nothing else.

#include <actorflow/ingest/item.hpp>
#include <actorflow/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// The extension of a file name by the reader's rule: from the last '.' on, when that dot is
/// not the name's first byte and is followed by an ASCII letter; otherwise "" (no extension).
/// So "notes.md" has ".md" and "UPPER.TXT" ".TXT" (as written), while license names with a
/// version, "Apache-2.0", "LGPL-2.1", "CC0-1.0", have none, like "LICENSE" and ".bashrc".
[[nodiscard]] std::string file_extension(std::string_view file_name);

struct DirectoryReaderOptions {
  /// Descend into subdirectories.
  bool recursive = true;
  /// File extensions to read, with the dot, compared ignoring ASCII case with each file's
  /// `file_extension`; "" selects files without one (LICENSE, GPL-3, Apache-2.0). An empty
  /// list selects every file.
  std::vector<std::string> extensions = {".txt", ".md", ""};
  /// Larger files are skipped (and reported).
  std::uint64_t max_file_bytes = 8U * 1024U * 1024U;
  /// Leave out files and directories whose name starts with '.' (not reported as skipped).
  bool exclude_hidden = true;
  /// Descend into symlinks to directories. Each real directory is still read at most once, so
  /// a symlink loop ends: the walk is depth-first with each directory's entries sorted by name,
  /// the first path to reach a directory wins, later ones are reported as skipped. Off: such
  /// symlinks are reported as skipped. Symlinks to files are always read.
  bool follow_directory_symlinks = false;
};

/// A file (or symlinked directory) that was selected but not read.
struct SkippedFile {
  std::string path{};   ///< relative to the root, '/'-separated, like a document id
  std::string reason{}; ///< e.g. "not UTF-8 text: invalid byte 0xff at offset 12"
};

struct DirectoryReadResult {
  std::vector<IngestItem> documents{}; ///< sorted by id (byte order)
  std::vector<SkippedFile> skipped{};  ///< sorted by path
};

/// Reads the text files under `root` as documents.
///
/// A file is selected by `options` (extension, hidden, recursion) and then read only if it is
/// a regular file (after following a symlink) no larger than `max_file_bytes` and holds valid
/// UTF-8 without NUL bytes; anything else that was selected lands in `skipped` with the
/// reason: binary or non-UTF-8 content, too large, unreadable, a broken symlink, a special file,
/// a directory symlink not followed or already read. A leading UTF-8 byte order mark is dropped
/// from the text; line endings are kept as they are.
///
/// Each document has `id` = the path relative to `root`, empty `ref_doc_id` and `embedding`,
/// and metadata: "file_path" (absolute, lexically normalised, not resolving symlinks),
/// "file_name", "extension" (`file_extension` of the name), "size_bytes" (int64) and "modified"
/// (last write time, ISO-8601 UTC to the second: "2024-05-01T12:34:56Z").
///
/// Errors (bad_input): `root` does not exist, is not a directory, or cannot be listed. Safe to
/// call from any thread; reads the file system and nothing else.
[[nodiscard]] Result<DirectoryReadResult>
read_directory(const std::string& root, const DirectoryReaderOptions& options = {});

/// One text file as a document, by the same rules and with the same metadata as
/// `read_directory`; its id is the file's name. `options.max_file_bytes` applies (the other
/// options select files in a folder and do not). Errors (bad_input) name the path and the
/// reason `read_directory` would have skipped it: not a regular file, too large, unreadable,
/// binary or not UTF-8.
[[nodiscard]] Result<IngestItem> read_text_file(const std::string& path,
                                                const DirectoryReaderOptions& options = {});

} // namespace actorflow
