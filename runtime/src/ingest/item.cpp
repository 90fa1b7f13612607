// IngestItem: its Value form, its content hash, and item files (JSON Lines or msgpack).

#include <actorflow/ingest/item.hpp>

#include "core/content_hash.hpp"
#include "core/text.hpp"
#include "ingest/file_bytes.hpp"
#include "ingest/ingest_support.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <utility>

namespace actorflow {

using detail::bad_input;
using detail::Contents;
using detail::errno_message;
using detail::File;
using detail::first_non_finite;
using detail::in_quotes;
using detail::read_file;

namespace {

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
