#include "actors/caf_error.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

namespace actorflow::actors {

Error to_error(const caf::error& error, const std::string& where) {
  if (error.category() == caf::atom("exit")) {
    if (error == caf::exit_reason::user_shutdown || error == caf::exit_reason::kill)
      return Error{Errc::cancelled, where + ": cancelled"};
    return Error{Errc::peer_lost, where + ": actor exited (" + to_string(error) + ")"};
  }
  if (error == caf::sec::request_timeout)
    return Error{Errc::timeout, where + ": no reply in time"};
  if (error == caf::sec::request_receiver_down)
    return Error{Errc::peer_lost, where + ": the actor is gone"};
  return Error{Errc::internal, where + ": " + to_string(error)};
}

} // namespace actorflow::actors
