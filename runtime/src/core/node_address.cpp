#include <actorflow/cluster.hpp>

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace actorflow {

namespace {

// Every address seen, never removed: a deque keeps each string where it is as it grows, so a
// reference handed out stays valid without the lock. Index 0 is this Runtime's "", index 1
// the overflow.
constexpr std::uint32_t overflow_id = 1;

struct AddressTable {
  std::mutex lock;
  std::deque<std::string> addresses{std::string{}, std::string{"(other node)"}};
  // Views into `addresses`; the overflow's too, so that an outcome naming it decodes to it.
  std::unordered_map<std::string_view, std::uint32_t> ids{{addresses[overflow_id], overflow_id}};
};

AddressTable& address_table() {
  static AddressTable table; // never destroyed before the outcomes that refer to it
  return table;
}

} // namespace

NodeAddress::NodeAddress(std::string_view address) {
  if (address.empty())
    return;
  if (address.size() > max_bytes) {
    id_ = overflow_id;
    return;
  }
  auto& table = address_table();
  std::lock_guard guard{table.lock};
  if (auto found = table.ids.find(address); found != table.ids.end()) {
    id_ = found->second;
    return;
  }
  if (table.ids.size() >= max_distinct) {
    id_ = overflow_id;
    return;
  }
  id_ = static_cast<std::uint32_t>(table.addresses.size());
  table.ids.emplace(table.addresses.emplace_back(address), id_);
}

NodeAddress NodeAddress::overflow() noexcept {
  NodeAddress out;
  out.id_ = overflow_id;
  return out;
}

const std::string& NodeAddress::str() const {
  auto& table = address_table();
  std::lock_guard guard{table.lock};
  return table.addresses[id_];
}

} // namespace actorflow
