// Node addresses (NodeAddress, core/node_address): interned for the life of the process, and
// coming from outside too (a peer's outcomes, a checkpoint store), so bounded in number and
// length; whatever does not fit is the overflow, which survives encoding.
#include <actorflow/batch.hpp>
#include <actorflow/cluster.hpp>

#include "core/outcome_codec.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace actorflow;

namespace {

NodeAddress round_trip(NodeAddress address) {
  ItemOutcome sent;
  sent.result = Value("ok");
  sent.ran_on = address;
  auto back = detail::decode_outcome(detail::encode_outcome(sent));
  REQUIRE(back.ok());
  return back->ran_on;
}

} // namespace

// One test case: it fills the process-wide table, in the order it needs.
TEST_CASE("addresses from outside cannot grow the table without bound") {
  // Too long: the overflow, which decodes to itself while the table still has room.
  const NodeAddress too_long(std::string(NodeAddress::max_bytes + 1, 'h'));
  CHECK(too_long == NodeAddress::overflow());
  CHECK(too_long.str() == "(other node)");
  CHECK(round_trip(too_long) == NodeAddress::overflow());
  CHECK(round_trip(NodeAddress("node-a:7000")).str() == "node-a:7000");
  // Many distinct addresses, as a peer or a checkpoint could send: past the cap, the overflow.
  std::size_t overflowed = 0;
  for (std::size_t i = 0; i < NodeAddress::max_distinct + 100; ++i)
    overflowed +=
        round_trip(NodeAddress("node-" + std::to_string(i) + ":7000")) == NodeAddress::overflow();
  CHECK(overflowed >= 100);
  CHECK(overflowed <= 102); // the cap counts the overflow's own entry, and node-a's
  CHECK(NodeAddress("node-0:7000").str() == "node-0:7000"); // the first ones stay themselves
}
