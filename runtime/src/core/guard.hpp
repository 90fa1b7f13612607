#pragma once
// The one place where exceptions from user code become typed errors. Everything that runs
// user code (factories, prep, exec, fallback, post, actor handlers) goes through `guarded`,
// so no exception ever crosses an actor boundary.

#include <actorflow/result.hpp>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace actorflow::detail {

/// The error for a caught exception; `where` says what was running ("node 'x' prep").
Error error_from_exception(std::exception_ptr exception, const std::string& where);

/// Runs `f`; returns its value, or the error its exception stands for. `where` is a string, or
/// a callable that makes one: hot paths pass a callable so that the description is only built
/// when something actually failed.
template <class Where, class F>
auto guarded(Where&& where, F&& f) -> Result<std::invoke_result_t<F>> {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      std::forward<F>(f)();
      return {};
    } else {
      return std::forward<F>(f)();
    }
  } catch (...) {
    if constexpr (std::is_invocable_v<Where>)
      return error_from_exception(std::current_exception(), std::string(where()));
    else
      return error_from_exception(std::current_exception(), std::string(where));
  }
}

} // namespace actorflow::detail
