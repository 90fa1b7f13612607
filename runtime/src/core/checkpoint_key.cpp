// The parts of checkpoint.hpp that the actors need without SQLite: item keys, status names, and
// the batch journal of a store that keeps none.
// Built into actorflow_core, which the actors link (the SQLite store is in actorflow_runtime).

#include <actorflow/checkpoint.hpp>

#include "core/content_hash.hpp"
#include "core/msgpack_pack.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace actorflow {

namespace {

void add_length(detail::Fnv1a128& hash, std::size_t length) {
  std::array<std::uint8_t, 8> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(length) >> (8 * i));
  hash.add(std::span<const std::uint8_t>(bytes));
}

} // namespace

std::string_view to_string(RunStatus status) noexcept {
  switch (status) {
    case RunStatus::running:
      return "running";
    case RunStatus::succeeded:
      return "succeeded";
    case RunStatus::failed:
      return "failed";
    case RunStatus::cancelled:
      return "cancelled";
    case RunStatus::interrupted:
      return "interrupted";
  }
  return "unknown";
}

std::string checkpoint_item_key(std::string_view node_path, std::string_view node_version,
                                const Value& input) {
  // Each part behind its length (8 bytes, little-endian), so ("ab", "c") and ("a", "bc") hash
  // different bytes. The digest must never change: a resumed run looks its items up by it.
  // One writer per thread, kept: a durable batch makes a key for every item it pulls, on its
  // actor's thread, and a fresh writer allocates 8 KiB (then a copy) each time.
  thread_local detail::MsgpackWriter writer;
  writer.buffer.clear();
  detail::pack_value(writer, input);
  const std::span<const std::uint8_t> bytes(
      reinterpret_cast<const std::uint8_t*>(writer.buffer.data()), writer.buffer.size());
  detail::Fnv1a128 hash;
  add_length(hash, node_path.size());
  hash.add(node_path);
  add_length(hash, node_version.size());
  hash.add(node_version);
  add_length(hash, bytes.size());
  hash.add(bytes);
  // A large input (a batch call's whole request body) does not keep its buffer for the
  // thread's life: the next key starts from the usual 8 KiB again.
  if (writer.buffer.size() > 64 * 1024)
    writer.buffer = msgpack::sbuffer();
  return hash.hex();
}

} // namespace actorflow

namespace actorflow {

namespace {

Error no_journal(std::string_view what) {
  return Error{Errc::unavailable,
               std::string(what).append(": this checkpoint store keeps no batch journal")};
}

Error no_viewer_reads(std::string_view what) {
  return Error{Errc::unavailable,
               std::string(what).append(": this checkpoint store does not list what it holds")};
}

} // namespace

Result<ItemPage> CheckpointStore::list_items(std::string_view, const ItemQuery&) {
  return no_viewer_reads("list_items");
}
Result<std::string> CheckpointStore::load_graph(std::string_view) {
  return no_viewer_reads("load_graph");
}

Result<void> CheckpointStore::save_batch_job(const BatchJobRecord&) {
  return no_journal("save_batch_job");
}
Result<std::optional<BatchJobRecord>> CheckpointStore::find_batch_call(std::string_view) {
  return no_journal("find_batch_call");
}
Result<void> CheckpointStore::forget_batch_calls(const std::vector<std::string>&) {
  return no_journal("forget_batch_calls");
}

} // namespace actorflow
