#pragma once
// ItemOutcome as msgpack: what a checkpoint store keeps of an item, and what a cluster node
// sends back for an item it ran. The format is actorflow's (below), stable across versions.

#include <actorflow/batch.hpp>
#include <actorflow/result.hpp>
#include <actorflow/value.hpp>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace actorflow::detail {

struct MsgpackWriter; // core/msgpack_pack.hpp

// {"index": int, "ok": bool, "value": any            (ok)
//                            "error": {"code": Errc name, "message": str,
//                                      "retry_after_ms": int (when set)}   (failed)
//  "attempts": int, "latency_us": int, "tokens": int, "ran_on": str (when not "")}
[[nodiscard]] std::vector<std::uint8_t> encode_outcome(const ItemOutcome& outcome);
/// Appends encode_outcome's bytes to `writer`: a store encodes a whole group into one buffer.
void pack_outcome(MsgpackWriter& writer, const ItemOutcome& outcome);
/// Bytes that are not such a map (or name an Errc this build does not know) are bad_input.
[[nodiscard]] Result<ItemOutcome> decode_outcome(std::span<const std::uint8_t> bytes);

/// An Error as the map above ("code", "message", "retry_after_ms"), and back into `out`; a map
/// that is not one is a bad_input error naming `what`.
[[nodiscard]] Value encode_error(const Error& error);
[[nodiscard]] Result<void> decode_error(const Value& fields, std::string_view what, Error& out);

} // namespace actorflow::detail
