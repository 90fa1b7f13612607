#include "actors/messages.hpp"

namespace actorflow::actors {

StepReply StepReply::of(Result<RunResult> r) {
  if (r.ok())
    return {std::move(*r), {}};
  return {std::nullopt, std::move(r).error()};
}

Result<RunResult> StepReply::take() && {
  if (result)
    return std::move(*result);
  return std::move(error);
}

} // namespace actorflow::actors
