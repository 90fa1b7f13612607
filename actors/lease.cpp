#include "actors/lease.hpp"

#include "actors/messages.hpp"
#include "actors/wire.hpp"

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <cmath>

namespace actorflow::actors {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

/// Whether a failed call may have cost tokens at the server: not when the server (or we)
/// turned it away before any work (429, 400, a bad request of ours, a cancel, a provider that
/// threw before sending), else perhaps (a timeout, a 5xx, a connection lost mid-answer).
bool may_have_used_tokens(Errc code) {
  switch (code) {
    case Errc::rate_limited:
    case Errc::bad_request:
    case Errc::bad_input:
    case Errc::cancelled:
    case Errc::internal:
      return false;
    default:
      return true;
  }
}

ModelCallEvent event_of(const LeaseReport& report, const std::optional<Error>& error) {
  ModelCallEvent event;
  event.provider = report.provider;
  event.provider_kind = report.provider_kind;
  event.model = report.model;
  event.node = report.node;
  event.item = report.item;
  event.waited = report.waited;
  event.estimated_tokens = report.estimated_tokens;
  event.error = error;
  event.batched = report.batched;
  return event;
}

class Lease final : public detail::ModelLease {
public:
  Lease(const caf::actor& controller, std::uint64_t id, LeaseReport report)
      : controller_(caf::actor_cast<caf::strong_actor_ptr>(controller).get()), id_(id),
        report_(std::move(report)), started_(Clock::now()) {}

  ~Lease() override {
    if (!ended_.exchange(true))
      settle(CallEnd{id_, std::nullopt, {}, false, std::nullopt, std::nullopt}, Usage{},
             Error{Errc::internal, "the model call ended without reporting how"}, {});
  }

  void end(const Usage& usage, const RateLimitInfo& rate_limits, const std::optional<Error>& error,
           std::optional<bool> batched, Facts facts) override {
    if (ended_.exchange(true))
      return;
    if (batched)
      report_.batched = *batched; // ended once: nothing else reads it meanwhile
    CallEnd call{id_, std::nullopt, rate_limits, false, std::nullopt, std::nullopt};
    if (!error) {
      // A server that sent no usage said nothing: the reservation stands (no call of a model
      // uses no tokens at all, so 0 is never a real count).
      if (usage.total_tokens > 0) {
        call.actual_tokens = usage.total_tokens; // normalised by the caller
        if (report_.price)
          call.actual_cost = report_.price->cost(usage, report_.batched);
      }
    } else if (!may_have_used_tokens(error->code)) {
      call.actual_tokens = 0;
      call.actual_cost = 0.0;
    }
    if (error && error->code == Errc::rate_limited) {
      call.rate_limited = true;
      if (error->retry_after)
        call.retry_after = *error->retry_after;
    }
    settle(std::move(call), usage, error, std::move(facts));
  }

private:
  void settle(CallEnd call, const Usage& usage, const std::optional<Error>& error, Facts facts) {
    // Weak: a call that outlives the Runtime finds its controller gone and reports nothing.
    if (auto controller = controller_.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(controller), release_atom::value, id_,
                     call_end_fields(call));
    const auto& hooks = *report_.hooks;
    hooks.meter->call_ended(report_.provider, report_.model, usage, error,
                            call.actual_cost.value_or(0), report_.price.has_value(),
                            report_.batched);
    const bool traced = report_.span && hooks.spans;
    if (!traced && !hooks.options.on_model_call)
      return;
    auto event = std::make_shared<ModelCallEvent>(event_of(report_, error));
    event->operation = facts.operation;
    event->response_model = std::move(facts.response_model);
    event->finish_reason = std::move(facts.finish_reason);
    event->took = std::chrono::duration_cast<nanoseconds>(Clock::now() - started_);
    event->usage = usage;
    event->cost = call.actual_cost.value_or(0);
    // On the provider's thread: the sink's clock and hooks are safe to use from any thread.
    if (traced)
      hooks.spans->report(SpanEvent::Kind::model_call, report_.provider + "/" + report_.model,
                          report_.item, report_.attempt, report_.span.id, report_.span_parent,
                          report_.span.start, error, std::nullopt, event);
    hooks.report_model_call(*event);
  }

  caf::weak_actor_ptr controller_;
  std::uint64_t id_;
  LeaseReport report_;
  Clock::time_point started_;
  std::atomic<bool> ended_{false};
};

} // namespace

namespace {

constexpr std::int64_t none = -1;

std::int64_t or_none(const std::optional<std::uint64_t>& x) {
  return x ? static_cast<std::int64_t>(*x) : none;
}
std::int64_t or_none(const std::optional<std::chrono::milliseconds>& x) {
  return x ? x->count() : none;
}
std::optional<std::uint64_t> count_or_none(std::int64_t x) {
  return x >= 0 ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(x)) : std::nullopt;
}
std::optional<std::chrono::milliseconds> ms_or_none(std::int64_t x) {
  return x >= 0 ? std::optional<std::chrono::milliseconds>(x) : std::nullopt;
}

} // namespace

// -- CallEnd as integers -----------------------------------------------------------------------

std::vector<char> call_end_fields(const CallEnd& end) {
  const auto& r = end.rate_limits;
  Array fields{or_none(end.actual_tokens),
               end.rate_limited ? 1 : 0,
               end.retry_after ? end.retry_after->count() : none,
               or_none(r.limit_requests),
               or_none(r.remaining_requests),
               or_none(r.reset_requests),
               or_none(r.limit_tokens),
               or_none(r.remaining_tokens),
               or_none(r.reset_tokens),
               end.actual_cost ? Value(*end.actual_cost) : Value(none)};
  return to_wire(Value(std::move(fields)));
}

CallEnd call_end_from(std::uint64_t lease, const std::vector<char>& bytes) {
  CallEnd end;
  end.lease = lease;
  auto decoded = from_msgpack(wire_view(bytes));
  if (!decoded || !decoded->is_array() || decoded->as_array().size() < 9)
    return end; // from a peer of another make: the estimate stands
  const auto& array = decoded->as_array();
  std::vector<std::int64_t> fields;
  for (std::size_t i = 0; i < 9; ++i)
    fields.push_back(array[i].is_int() ? array[i].as_int() : none);
  if (array.size() > 9 && array[9].is_double() && std::isfinite(array[9].as_double()) &&
      array[9].as_double() >= 0)
    end.actual_cost = array[9].as_double();
  end.actual_tokens = count_or_none(fields[0]);
  end.rate_limited = fields[1] == 1;
  if (fields[2] >= 0)
    end.retry_after = std::chrono::nanoseconds{fields[2]};
  auto& r = end.rate_limits;
  r.limit_requests = count_or_none(fields[3]);
  r.remaining_requests = count_or_none(fields[4]);
  r.reset_requests = ms_or_none(fields[5]);
  r.limit_tokens = count_or_none(fields[6]);
  r.remaining_tokens = count_or_none(fields[7]);
  r.reset_tokens = ms_or_none(fields[8]);
  return end;
}

detail::ModelLeasePtr make_lease(const caf::actor& controller, std::uint64_t id,
                                 LeaseReport report) {
  return std::make_shared<Lease>(controller, id, std::move(report));
}

void report_refused(const LeaseReport& report, const Error& error) {
  report.hooks->meter->call_refused();
  if (report.hooks->options.on_model_call)
    report.hooks->report_model_call(event_of(report, error));
}

} // namespace actorflow::actors
