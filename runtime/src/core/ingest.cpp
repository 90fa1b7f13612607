#include <actorflow/ingest.hpp>

#include "content_hash.hpp"
#include "sentences.hpp"
#include "text.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <system_error>
#include <utility>

namespace actorflow {

namespace fs = std::filesystem;

namespace {

Error bad_input(std::string message) { return Error{Errc::bad_input, std::move(message)}; }

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

// The message of the errno a failed C library call left, e.g. "No such file or directory".
std::string errno_message(int error) {
  return error != 0 ? std::generic_category().message(error) : "unknown error";
}

// -- item fields ----------------------------------------------------------------------------

Error field_error(std::string_view field, const Value& value, std::string_view wanted) {
  return bad_input("IngestItem: field " + in_quotes(field) + " holds " +
                   std::string(to_string(value.type())) + " (" + value.preview() + "), not " +
                   std::string(wanted));
}

// The string at `key`; "" when it is missing and not `required`.
Result<std::string> string_field(const Map& map, std::string_view key, bool required) {
  const auto it = map.find(key);
  if (it == map.end()) {
    if (required)
      return bad_input("IngestItem: missing field " + in_quotes(key));
    return std::string();
  }
  if (!it->second.is_string())
    return field_error(key, it->second, "string");
  return it->second.as_string();
}

Result<std::vector<float>> embedding_field(const Map& map) {
  const auto it = map.find(std::string_view("embedding"));
  if (it == map.end())
    return std::vector<float>();
  if (!it->second.is_array())
    return field_error("embedding", it->second, "array");
  const Array& numbers = it->second.as_array();
  std::vector<float> embedding;
  embedding.reserve(numbers.size());
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::string field = "embedding[" + std::to_string(i) + "]";
    if (!numbers[i].is_number())
      return field_error(field, numbers[i], "a number");
    const double number = numbers[i].as_double();
    const auto narrowed = static_cast<float>(number);
    if (std::isfinite(number) && !std::isfinite(narrowed))
      return bad_input("IngestItem: field " + in_quotes(field) + " (" + numbers[i].preview() +
                       ") does not fit a float");
    embedding.push_back(narrowed);
  }
  return embedding;
}

// The index of the first NaN or infinity in `embedding`, if any.
std::optional<std::size_t> first_non_finite(const std::vector<float>& embedding) {
  const auto it =
      std::find_if(embedding.begin(), embedding.end(), [](float x) { return !std::isfinite(x); });
  if (it == embedding.end())
    return std::nullopt;
  return static_cast<std::size_t>(it - embedding.begin());
}

} // namespace

// -- IngestItem -----------------------------------------------------------------------------

Value IngestItem::to_value() const {
  Array numbers;
  numbers.reserve(embedding.size());
  for (float x : embedding)
    numbers.emplace_back(x);
  Map map;
  map.emplace("id", id);
  map.emplace("ref_doc_id", ref_doc_id);
  map.emplace("text", text);
  map.emplace("metadata", metadata);
  map.emplace("embedding", std::move(numbers));
  return Value(std::move(map));
}

Result<IngestItem> IngestItem::from_value(const Value& value) {
  if (!value.is_map())
    return bad_input("IngestItem: expected a map, got " + std::string(to_string(value.type())) +
                     " (" + value.preview() + ")");
  const Map& map = value.as_map();
  IngestItem item;
  auto id = string_field(map, "id", /*required=*/true);
  if (!id)
    return std::move(id).error();
  item.id = std::move(*id);
  auto ref_doc_id = string_field(map, "ref_doc_id", /*required=*/false);
  if (!ref_doc_id)
    return std::move(ref_doc_id).error();
  item.ref_doc_id = std::move(*ref_doc_id);
  auto text = string_field(map, "text", /*required=*/true);
  if (!text)
    return std::move(text).error();
  item.text = std::move(*text);
  if (const auto it = map.find(std::string_view("metadata")); it != map.end()) {
    if (!it->second.is_map())
      return field_error("metadata", it->second, "map");
    item.metadata = it->second.as_map();
  }
  auto embedding = embedding_field(map);
  if (!embedding)
    return std::move(embedding).error();
  item.embedding = std::move(*embedding);
  return item;
}

std::string IngestItem::content_hash() const { return detail::content_hash(text); }

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

Contents read_file(const fs::path& path, std::uint64_t max_bytes) {
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
    return Error{Errc::bad_input, "read_text_file: " + in_quotes(path) + ": " + doc.error().message};
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

// -- splitter -------------------------------------------------------------------------------

namespace {

// The largest x in [lo, hi] with fits(x), searching from lo (assumed to fit, or forced) by
// doubling steps, then bisecting: O(log(x - lo)) calls. If fits is monotone this is the
// largest fitting x; if not, it is still one that fits (or lo), and x + 1 (if <= hi) was seen
// not to fit.
template <class Fits> std::size_t last_fitting(std::size_t lo, std::size_t hi, Fits fits) {
  std::size_t good = lo;
  std::size_t step = 1;
  while (step <= hi - good && fits(good + step)) {
    good += step;
    step *= 2;
  }
  std::size_t bad = step <= hi - good ? good + step : hi + 1; // tested false, or past the end
  while (bad - good > 1) {
    const std::size_t mid = good + (bad - good) / 2;
    if (fits(mid))
      good = mid;
    else
      bad = mid;
  }
  return good;
}

// A run of bytes the packer never cuts: a sentence, or a word (or a piece of one) of a sentence
// too large for a chunk. Pieces tile the text: each owns the whitespace after it.
struct Piece {
  std::size_t begin = 0;
  std::size_t end = 0;
};

class Chunker {
public:
  Chunker(std::string_view text, const SplitterOptions& options, const TokenEstimator& estimator)
      : text_(text), options_(options), estimator_(estimator) {}

  std::vector<TextSpan> chunks() && {
    const std::vector<detail::SentenceSpan> sentences = detail::sentence_spans(text_);
    for (std::size_t k = 0; k < sentences.size(); ++k) {
      const std::size_t begin = k == 0 ? 0 : sentences[k].begin;
      const std::size_t end = k + 1 < sentences.size() ? sentences[k + 1].begin : text_.size();
      add_sentence(begin, end);
    }
    if (pieces_.empty())
      return {};
    std::vector<TextSpan> chunks;
    std::size_t start = 0;
    std::size_t first_new = 0; // the first piece the next chunk must take whole
    while (true) {
      const std::size_t last = last_fitting(first_new, pieces_.size() - 1, [&](std::size_t x) {
        return fits(start, pieces_[x].end, size());
      });
      chunks.push_back({start, pieces_[last].end});
      if (last + 1 == pieces_.size())
        return chunks;
      first_new = last + 1;
      start = overlap_start(start, last, first_new);
    }
  }

private:
  [[nodiscard]] std::size_t size() const { return options_.chunk_size; }

  [[nodiscard]] bool fits(std::size_t begin, std::size_t end, std::size_t budget) const {
    return estimator_.count(text_.substr(begin, end - begin)) <= budget;
  }

  void add_sentence(std::size_t begin, std::size_t end) {
    if (fits(begin, end, size())) {
      pieces_.push_back({begin, end});
      return;
    }
    // Too large: cut it before each word (a word starts where whitespace ends), but not before
    // the first, so that leading whitespace of the text never makes a piece of its own.
    std::size_t word = begin;
    bool word_has_content = !detail::is_space(text_[begin]);
    for (std::size_t i = begin + 1; i < end; ++i) {
      if (detail::is_space(text_[i]))
        continue;
      if (detail::is_space(text_[i - 1]) && word_has_content) {
        add_word(word, i);
        word = i;
      }
      word_has_content = true;
    }
    add_word(word, end);
  }

  // `[begin, end)` holds one word with the whitespace after it (and, first in the text, the
  // whitespace before it).
  void add_word(std::size_t begin, std::size_t end) {
    if (fits(begin, end, size())) {
      pieces_.push_back({begin, end});
      return;
    }
    // Too large even alone: cut it between UTF-8 characters, as few times as the budget allows.
    // Only inside the non-whitespace core, so that every piece holds a character and whitespace
    // stays with the character next to it.
    std::size_t content_begin = begin;
    while (detail::is_space(text_[content_begin]))
      ++content_begin;
    std::size_t content_end = end;
    while (detail::is_space(text_[content_end - 1]))
      --content_end;
    std::vector<std::size_t> cuts{begin}; // where a piece may start, then `end`
    for (std::size_t i = next_character(content_begin, content_end); i < content_end;
         i = next_character(i, content_end))
      cuts.push_back(i);
    cuts.push_back(end);
    std::size_t from = 0;
    while (from + 1 < cuts.size()) {
      const std::size_t to = last_fitting(from + 1, cuts.size() - 1, [&](std::size_t x) {
        return fits(cuts[from], cuts[x], size());
      });
      pieces_.push_back({cuts[from], cuts[to]});
      from = to;
    }
  }

  // Where the character starting at `i` ends: after its continuation bytes, at most 4 bytes
  // in all (invalid UTF-8 is cut every 4 bytes rather than never).
  [[nodiscard]] std::size_t next_character(std::size_t i, std::size_t end) const {
    std::size_t next = i + 1;
    while (next < end && next - i < 4 && detail::is_utf8_continuation(text_[next]))
      ++next;
    return next;
  }

  // Where the chunk after [start, pieces_[last].end) starts, so that it shares at most
  // chunk_overlap tokens with it and still fits piece `first_new` within chunk_size.
  [[nodiscard]] std::size_t overlap_start(std::size_t start, std::size_t last,
                                          std::size_t first_new) const {
    const std::size_t shared_end = pieces_[last].end;
    const std::size_t new_end = pieces_[first_new].end;
    const auto acceptable = [&](std::size_t candidate) {
      return candidate > start && fits(candidate, shared_end, options_.chunk_overlap) &&
             fits(candidate, new_end, size());
    };
    std::size_t chosen = shared_end; // no overlap
    // Whole trailing pieces (sentences), the more the better.
    for (std::size_t k = last + 1; k-- > 0 && acceptable(pieces_[k].begin);)
      chosen = pieces_[k].begin;
    if (chosen != shared_end)
      return chosen;
    // Not even the last sentence fits: its trailing words, the more the better.
    for (std::size_t i = shared_end; i-- > pieces_[last].begin + 1;) {
      if (!detail::is_space(text_[i - 1]) || detail::is_space(text_[i]))
        continue;
      if (!acceptable(i))
        break;
      chosen = i;
    }
    return chosen;
  }

  std::string_view text_;
  const SplitterOptions& options_;
  const TokenEstimator& estimator_;
  std::vector<Piece> pieces_;
};

} // namespace

Result<SentenceSplitter> SentenceSplitter::make(SplitterOptions options,
                                                const TokenEstimator& estimator) {
  if (options.chunk_size == 0)
    return bad_input("SentenceSplitter: chunk_size must be at least 1 token");
  if (options.chunk_overlap >= options.chunk_size)
    return bad_input("SentenceSplitter: chunk_overlap (" + std::to_string(options.chunk_overlap) +
                     ") must be smaller than chunk_size (" + std::to_string(options.chunk_size) +
                     ")");
  return SentenceSplitter(options, estimator);
}

std::vector<TextSpan> SentenceSplitter::split(std::string_view text) const {
  return Chunker(text, options_, *estimator_).chunks();
}

std::vector<IngestItem> SentenceSplitter::split_document(const IngestItem& doc) const {
  std::vector<IngestItem> chunks;
  const std::vector<TextSpan> spans = split(doc.text);
  chunks.reserve(spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) {
    IngestItem chunk;
    chunk.id = doc.id + "#" + std::to_string(i);
    chunk.ref_doc_id = doc.id;
    chunk.text = doc.text.substr(spans[i].start, spans[i].end - spans[i].start);
    chunk.metadata = doc.metadata;
    chunk.metadata.insert_or_assign("chunk_index", static_cast<std::int64_t>(i));
    chunk.metadata.insert_or_assign("start", static_cast<std::int64_t>(spans[i].start));
    chunk.metadata.insert_or_assign("end", static_cast<std::int64_t>(spans[i].end));
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

// -- vector index ---------------------------------------------------------------------------

namespace {

double squared_norm(const std::vector<float>& v) {
  double sum = 0.0;
  for (float x : v)
    sum += static_cast<double>(x) * static_cast<double>(x);
  return sum;
}

} // namespace

Result<void> VectorIndex::add(IngestItem item) {
  const std::string what = "VectorIndex::add: item " + in_quotes(item.id);
  if (item.embedding.empty())
    return bad_input(what + " has no embedding");
  if (const auto bad = first_non_finite(item.embedding))
    return bad_input(what + ": embedding[" + std::to_string(*bad) + "] is not finite");
  if (dimension_ != 0 && item.embedding.size() != dimension_)
    return bad_input(what + " has dimension " + std::to_string(item.embedding.size()) +
                     ", the index " + std::to_string(dimension_));
  dimension_ = item.embedding.size();
  squared_norms_.push_back(squared_norm(item.embedding));
  items_.push_back(std::move(item));
  return {};
}

Result<std::vector<VectorHit>> VectorIndex::query(const std::vector<float>& embedding,
                                                  std::size_t k) const {
  if (items_.empty())
    return std::vector<VectorHit>();
  if (embedding.size() != dimension_)
    return bad_input("VectorIndex::query: dimension " + std::to_string(embedding.size()) +
                     ", the index " + std::to_string(dimension_));
  if (const auto bad = first_non_finite(embedding))
    return bad_input("VectorIndex::query: embedding[" + std::to_string(*bad) + "] is not finite");
  // cosine_similarity's arithmetic, with the norms computed once: the same scores, bit for bit.
  const double query_norm = squared_norm(embedding);
  std::vector<std::pair<double, std::size_t>> scored; // (score, index)
  scored.reserve(items_.size());
  for (std::size_t i = 0; i < items_.size(); ++i) {
    double score = 0.0;
    if (query_norm != 0.0 && squared_norms_[i] != 0.0) {
      const std::vector<float>& other = items_[i].embedding;
      double dot = 0.0;
      for (std::size_t d = 0; d < dimension_; ++d)
        dot += static_cast<double>(embedding[d]) * static_cast<double>(other[d]);
      score = std::clamp(dot / std::sqrt(query_norm * squared_norms_[i]), -1.0, 1.0);
    }
    scored.emplace_back(score, i);
  }
  const auto better = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  const std::size_t n = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                    better);
  std::vector<VectorHit> hits;
  hits.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    hits.push_back({items_[scored[i].second].id, scored[i].first, scored[i].second});
  return hits;
}

// -- saving ---------------------------------------------------------------------------------

namespace {

bool starts_msgpack_map(std::uint8_t byte) {
  return (byte & 0xF0U) == 0x80U || byte == 0xde || byte == 0xdf;
}

Result<std::vector<IngestItem>> load_jsonl(const std::string& path, std::string_view text) {
  std::vector<IngestItem> items;
  std::size_t line_number = 0;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (detail::trim(line).empty())
      continue;
    const auto fail = [&](const Error& error) {
      return bad_input("load_items " + in_quotes(path) + ": line " + std::to_string(line_number) +
                       ": " + error.message);
    };
    auto value = from_json(line);
    if (!value)
      return fail(value.error());
    auto item = IngestItem::from_value(*value);
    if (!item)
      return fail(item.error());
    items.push_back(std::move(*item));
  }
  return items;
}

Result<std::vector<IngestItem>> load_msgpack(const std::string& path, std::string_view data) {
  constexpr std::string_view msgpack_prefix = "msgpack: ";
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(data.data()),
                                            data.size());
  std::vector<IngestItem> items;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const auto fail = [&](const Error& error) {
      return bad_input("load_items " + in_quotes(path) + ": item " +
                       std::to_string(items.size() + 1) + " at byte " + std::to_string(offset) +
                       ": " + error.message);
    };
    std::size_t next = offset;
    auto value = from_msgpack_at(bytes, next);
    if (!value) {
      // The place already says what is being decoded: keep the message, not its "msgpack: ".
      Error error = std::move(value).error();
      if (std::string_view(error.message).starts_with(msgpack_prefix))
        error.message.erase(0, msgpack_prefix.size());
      return fail(error);
    }
    auto item = IngestItem::from_value(*value);
    if (!item)
      return fail(item.error());
    items.push_back(std::move(*item));
    offset = next;
  }
  return items;
}

} // namespace

Result<void> save_items(const std::string& path, const std::vector<IngestItem>& items,
                        ItemFormat format) {
  std::string out;
  for (const IngestItem& item : items) {
    if (format == ItemFormat::jsonl) {
      if (const auto bad = first_non_finite(item.embedding))
        return bad_input("save_items: item " + in_quotes(item.id) + ": embedding[" +
                         std::to_string(*bad) + "] is not finite, which JSON cannot hold");
      out += to_json(item.to_value());
      out += '\n';
    } else {
      const std::vector<std::uint8_t> bytes = to_msgpack(item.to_value());
      out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
  }
  errno = 0;
  File file(std::fopen(path.c_str(), "wb"));
  if (!file)
    return bad_input("save_items: cannot open " + in_quotes(path) +
                     " for writing: " + errno_message(errno));
  const bool written = std::fwrite(out.data(), 1, out.size(), file.get()) == out.size();
  const int write_error = errno;
  const bool closed = std::fclose(file.release()) == 0;
  if (!written || !closed)
    return Error{Errc::unavailable, "save_items: writing " + in_quotes(path) +
                                        " failed: " + errno_message(written ? errno : write_error)};
  return {};
}

Result<std::vector<IngestItem>> load_items(const std::string& path) {
  const Contents contents = read_file(path, std::numeric_limits<std::uint64_t>::max());
  if (!contents.failed.empty())
    return bad_input("load_items: " + contents.failed + " " + in_quotes(path) + ": " +
                     contents.reason);
  const std::string& bytes = contents.bytes;
  if (bytes.empty())
    return std::vector<IngestItem>();
  if (starts_msgpack_map(static_cast<std::uint8_t>(bytes.front())))
    return load_msgpack(path, bytes);
  return load_jsonl(path, bytes);
}

} // namespace actorflow
