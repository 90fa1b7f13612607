#include "core/guard.hpp"

namespace actorflow::detail {

Error error_from_exception(std::exception_ptr exception, const std::string& where) {
  try {
    std::rethrow_exception(std::move(exception));
  } catch (const Failure& failure) {
    // A deliberate failure keeps its code; only the location is added.
    return Error{failure.error().code, where + ": " + failure.error().message,
                 failure.error().retry_after};
  } catch (const std::exception& e) {
    return Error{Errc::node_threw, where + " threw: " + e.what()};
  } catch (...) {
    return Error{Errc::node_threw, where + " threw a non-standard exception"};
  }
}

} // namespace actorflow::detail
