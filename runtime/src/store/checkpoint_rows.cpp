#include "store/checkpoint_rows.hpp"

#include "core/outcome_codec.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace actorflow::detail {

Error not_a_checkpoint_store(std::string_view store, std::string_view why) {
  std::string message(store);
  message += ": not an actorflow checkpoint store: ";
  message += why;
  return Error{Errc::bad_input, std::move(message)};
}

Error unreadable_schema_version(std::string_view store, std::int64_t found,
                                std::int64_t oldest_readable) {
  std::string message(store);
  message += ": checkpoint schema version ";
  message += std::to_string(found);
  if (found > checkpoint_schema_version) {
    message += " is newer than this actorflow's (version ";
    message += std::to_string(checkpoint_schema_version);
    message += "): open it with a newer actorflow";
  } else {
    message += " is not one this actorflow reads (it reads versions ";
    message += std::to_string(oldest_readable);
    message += " to ";
    message += std::to_string(checkpoint_schema_version);
    message += ')';
  }
  return Error{Errc::bad_input, std::move(message)};
}

std::int64_t to_ms(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::int64_t now_ms() { return to_ms(std::chrono::system_clock::now()); }

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point{std::chrono::milliseconds{ms}};
}

std::int64_t to_nanos(double dollars) noexcept {
  // A NaN or a negative cost (a price table's mistake) is no cost; a huge one saturates.
  if (!(dollars > 0))
    return 0;
  const double nanos = dollars * 1e9;
  if (nanos >= 9.2e18)
    return std::numeric_limits<std::int64_t>::max();
  return std::llround(nanos);
}

double from_nanos(std::int64_t nanos) noexcept { return static_cast<double>(nanos) / 1e9; }

Result<RunStatus> run_status_named(std::string_view store, std::string_view run_id,
                                   std::string_view name) {
  for (RunStatus status : {RunStatus::running, RunStatus::succeeded, RunStatus::failed,
                           RunStatus::cancelled, RunStatus::interrupted})
    if (to_string(status) == name)
      return status;
  std::string message(store);
  message += ": run '";
  message += run_id;
  message += "': unknown status '";
  message += name;
  message += '\'';
  return Error{Errc::bad_input, std::move(message)};
}

std::optional<InterruptStatus> interrupt_status_named(std::string_view name) {
  for (InterruptStatus status :
       {InterruptStatus::pending, InterruptStatus::answered, InterruptStatus::defaulted,
        InterruptStatus::expired, InterruptStatus::cancelled})
    if (to_string(status) == name)
      return status;
  return std::nullopt;
}

Error no_run(std::string_view store, std::string_view run_id) {
  std::string message = "no run '";
  message += run_id;
  message += "' in ";
  message += store;
  return Error{Errc::bad_input, std::move(message)};
}

Error run_recorded_already(std::string_view store, std::string_view run_id) {
  std::string message(store);
  message += ": begin_run: run '";
  message += run_id;
  message += "' is already recorded";
  return Error{Errc::bad_input, std::move(message)};
}

Error undecodable(std::string_view store, std::string_view run_id, std::string_view what,
                  const Error& error) {
  std::string message(store);
  message += ": run '";
  message += run_id;
  message += "': ";
  message += what;
  message += " does not decode: ";
  message += error.message;
  return Error{Errc::bad_input, std::move(message)};
}

Error not_answerable(std::string_view run_id, std::string_view id,
                     std::optional<std::string_view> status) {
  std::string message;
  if (!status) {
    message = "no interrupt '";
    message += id;
    message += "' in run '";
    message += run_id;
    message += '\'';
    return Error{Errc::bad_input, std::move(message)};
  }
  message = "interrupt '";
  message += id;
  message += "' of run '";
  message += run_id;
  message += "' is not pending: it ";
  if (*status == to_string(InterruptStatus::answered))
    message += "was already ";
  else if (*status != to_string(InterruptStatus::expired))
    message += "was ";
  message += *status;
  return Error{Errc::bad_input, std::move(message)};
}

EncodedOutcomes::EncodedOutcomes(const std::vector<ItemCheckpoint>& items) {
  ends_.reserve(items.size());
  for (const ItemCheckpoint& item : items) {
    pack_outcome(writer_, item.outcome);
    ends_.push_back(writer_.buffer.size());
  }
}

std::span<const std::uint8_t> EncodedOutcomes::operator[](std::size_t i) const {
  const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
  const auto* data = reinterpret_cast<const std::uint8_t*>(writer_.buffer.data());
  return {data + begin, ends_[i] - begin};
}

} // namespace actorflow::detail
