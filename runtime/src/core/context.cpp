#include <actorflow/context.hpp>
#include <actorflow/flow.hpp>

#include <exception>
#include <memory>

namespace actorflow {

Task<std::vector<Result<RunResult>>> Context::run_all(std::vector<std::pair<Flow, State>> runs) {
  using Results = std::vector<Result<RunResult>>;
  auto start = [&](std::coroutine_handle<> h, std::optional<Results>& out) {
    host_->run_flows(std::move(runs), h, out);
  };
  detail::HostAwaiter<Results, decltype(start)> awaiter(start);
  co_return co_await awaiter;
}

Task<Result<Value>> Context::on(std::function<void(std::function<void()>)> post,
                                std::function<Value()> work) {
  // Shared with the posted work: an attempt abandoned meanwhile leaves the slot alive for it.
  auto slot = std::make_shared<std::optional<Result<Value>>>();
  // Named before the co_await: GCC 12 destroys a closure temporary of a co_await expression
  // twice.
  std::function<void(std::function<void()>)> start =
      [slot, post = std::move(post), work = std::move(work)](std::function<void()> wake) {
        auto run = [slot, work, wake]() {
          try {
            slot->emplace(work());
          } catch (const std::exception& e) {
            slot->emplace(Error{Errc::node_threw, e.what()});
          } catch (...) {
            slot->emplace(Error{Errc::node_threw, "a host function threw a non-exception"});
          }
          wake();
        };
        try {
          post(std::move(run));
        } catch (const std::exception& e) {
          slot->emplace(
              Error{Errc::unavailable, std::string("the host's executor refused: ") + e.what()});
          wake();
        }
      };
  co_await detail::ExternalAwaiter(*host_, std::move(start));
  co_return std::move(**slot);
}

namespace {

using Slot = std::shared_ptr<std::optional<Result<Value>>>;
using Start = std::function<void(std::function<void(Result<Value>)> done)>;

/// What ExternalAwaiter starts for `start`: its `done` fills `slot` and wakes the actor.
std::function<void(std::function<void()>)> bind_external(Slot slot, Start start) {
  return [slot = std::move(slot), start = std::move(start)](std::function<void()> wake) {
    try {
      start([slot, wake](Result<Value> result) {
        slot->emplace(std::move(result));
        wake();
      });
    } catch (const std::exception& e) {
      slot->emplace(Error{Errc::node_threw, std::string("external: ") + e.what()});
      wake();
    }
  };
}

} // namespace

Task<Result<Value>> Context::external(Start start) {
  auto slot = std::make_shared<std::optional<Result<Value>>>();
  // Named before the co_await (see `on`).
  auto begin = bind_external(slot, std::move(start));
  co_await detail::ExternalAwaiter(*host_, std::move(begin));
  co_return std::move(**slot);
}

Task<Result<Value>> Context::interrupt(Value question, InterruptOptions options) {
  auto slot = std::make_shared<std::optional<Result<Value>>>();
  // Named before the co_await (see `on`).
  Start start = [host = host_, question = std::move(question),
                 options = std::move(options)](std::function<void(Result<Value>)> done) mutable {
    host->raise_interrupt(std::move(question), options, std::move(done));
  };
  auto begin = bind_external(slot, std::move(start));
  co_await detail::ExternalAwaiter(*host_, std::move(begin));
  co_return std::move(**slot);
}

Task<Result<Value>> Context::interrupt(Value question) {
  return interrupt(std::move(question), InterruptOptions{});
}

Task<Result<Value>> Context::interrupt(Value question, std::chrono::milliseconds timeout,
                                       Value default_answer) {
  return interrupt(std::move(question), InterruptOptions{timeout, std::move(default_answer)});
}

detail::ExecHost& detail::ContextAccess::host(Context& ctx) noexcept { return *ctx.host_; }

} // namespace actorflow
