#pragma once
// CAF's errors (a dead actor, a request timeout, an exit) as actorflow's typed errors.

#include <actorflow/result.hpp>

#include <caf/fwd.hpp>

#include <string>

namespace actorflow::actors {

/// Our error for an infrastructure failure reported by CAF; `where` names what failed
/// ("node 'a'", "ask").
[[nodiscard]] Error to_error(const caf::error& error, const std::string& where);

} // namespace actorflow::actors
