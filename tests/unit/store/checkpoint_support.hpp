#pragma once
// What the checkpoint store's tests share: outcomes to commit, and ways to read back runs and
// refusals.
#include <actorflow/checkpoint.hpp>

#include "store_support.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorflow::testing_support {

inline ItemOutcome succeeded(std::size_t index, Value value, std::int64_t tokens) {
  ItemOutcome outcome;
  outcome.index = index;
  outcome.result.emplace<0>(std::move(value));
  outcome.attempts = 1;
  outcome.latency = std::chrono::microseconds{1250};
  outcome.tokens = tokens;
  return outcome;
}

inline RunRecord record_of(CheckpointStore& store, const std::string& run_id) {
  return must(store.load_run(run_id)).record;
}

inline std::vector<std::string> ids_of(const std::vector<RunRecord>& runs) {
  std::vector<std::string> ids;
  for (const RunRecord& run : runs)
    ids.push_back(run.run_id);
  return ids;
}

inline void check_refused(const std::string& path, std::string_view says) {
  Result<CheckpointStorePtr> store = open_checkpoint_store(path);
  REQUIRE_FALSE(store.ok());
  INFO(store.error().message);
  CHECK(store.error().code == Errc::bad_input);
  CHECK(contains(store.error().message, path + ": "));
  CHECK(contains(store.error().message, says));
}

} // namespace actorflow::testing_support
