#include <actorflow/cluster.hpp>

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace actorflow {

namespace {

// Every address seen, never removed: a deque keeps each string where it is as it grows, so a
// reference handed out stays valid without the lock. Index 0 is this Runtime's "".
struct AddressTable {
  std::mutex lock;
  std::deque<std::string> addresses{std::string{}};
  std::unordered_map<std::string_view, std::uint32_t> ids; // views into `addresses`
};

AddressTable& address_table() {
  static AddressTable table; // never destroyed before the outcomes that refer to it
  return table;
}

} // namespace

NodeAddress::NodeAddress(std::string_view address) {
  if (address.empty())
    return;
  auto& table = address_table();
  std::lock_guard guard{table.lock};
  if (auto found = table.ids.find(address); found != table.ids.end()) {
    id_ = found->second;
    return;
  }
  id_ = static_cast<std::uint32_t>(table.addresses.size());
  table.ids.emplace(table.addresses.emplace_back(address), id_);
}

const std::string& NodeAddress::str() const {
  auto& table = address_table();
  std::lock_guard guard{table.lock};
  return table.addresses[id_];
}

} // namespace actorflow
