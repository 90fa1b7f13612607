#include "actors/supervisor.hpp"

#include "actors/messages.hpp"

#include <caf/event_based_actor.hpp>

#include <random>

namespace actorflow::actors {

namespace {

// A uniform sample in [0, 1) for backoff jitter. One generator per thread, seeded once: node
// actors are made for every step, and seeding each from std::random_device is a system call.
double jitter_sample() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

} // namespace

Supervisor::Supervisor(caf::event_based_actor* self, NodeSpecPtr spec,
                       std::optional<RetryPolicy> policy)
    : self_(self), spec_(std::move(spec)), rules_(std::move(policy)), spans_(spec_->scope.spans()) {
}

std::string Supervisor::what(const Supervised& work) const {
  return work.item ? spec_->where(*work.item) : spec_->where("exec");
}

std::optional<Error> Supervisor::begin_attempt(Supervised& work, std::uint32_t key, bool again) {
  if (!again) {
    if (!rules_.admit(self_->clock().now())) {
      Error error{Errc::circuit_open,
                  what(work) + ": circuit open after too many failures; fails fast"};
      report(AttemptEvent::Kind::circuit_rejected, work, error);
      return error;
    }
    ++work.attempt;
  }
  work.launch = ++launches_;
  if (work.launch == 0) // wrapped around: 0 means "none running"
    work.launch = ++launches_;
  if (spans_)
    work.attempt_span = OpenSpan{spans_->new_id(), spans_->now()};
  if (const auto limit = rules_.attempt_timeout(); limit.count() > 0)
    self_->delayed_send(self_, limit, timeout_atom::value, key, work.launch);
  return std::nullopt;
}

void Supervisor::succeeded(Supervised& work) {
  work.launch = 0;
  close_span(work, work.attempt_span, SpanEvent::Kind::attempt, work.attempt, nullptr);
  rules_.succeeded();
}

std::optional<Error> Supervisor::failed(Supervised& work, std::uint32_t key, const Error& error,
                                        bool retryable) {
  work.launch = 0;
  close_span(work, work.attempt_span, SpanEvent::Kind::attempt, work.attempt, &error);
  report(AttemptEvent::Kind::failed, work, error);
  const auto after = rules_.failed(error, work.attempt, retryable, work.last_delay,
                                   self_->clock().now(), jitter_sample());
  if (after.opened_circuit)
    report(AttemptEvent::Kind::circuit_opened, work, error);
  using Next = detail::Supervision::AfterFailure::Next;
  switch (after.next) {
    case Next::give_up:
      report(AttemptEvent::Kind::gave_up, work, error);
      return error;
    case Next::circuit_open: {
      Error open{Errc::circuit_open, what(work) + ": circuit open; not retried (last error: " +
                                         error.to_string() + ")"};
      report(AttemptEvent::Kind::circuit_rejected, work, open);
      return open;
    }
    case Next::retry:
      break;
  }
  work.last_delay = after.delay;
  ++retries_;
  report(AttemptEvent::Kind::retry_scheduled, work, error, after.delay);
  if (spans_)
    work.backoff_span = OpenSpan{spans_->new_id(), spans_->now()};
  self_->delayed_send(self_, after.delay, retry_atom::value, key, work.attempt);
  return std::nullopt;
}

std::optional<Error> Supervisor::timed_out(Supervised& work, std::uint32_t launch) {
  if (!work.running() || work.launch != launch)
    return std::nullopt; // that attempt has ended already (its slot may hold other work now)
  Error error{Errc::timeout, what(work) + ": attempt " + std::to_string(work.attempt) +
                                 " took longer than attempt_timeout (" +
                                 std::to_string(rules_.attempt_timeout().count()) + " ms)"};
  report(AttemptEvent::Kind::timed_out, work, error);
  return error;
}

bool Supervisor::retry_due(Supervised& work, std::uint32_t attempt) {
  if (work.running() || work.attempt != attempt || work.attempt == 0)
    return false; // not waiting for this retry
  // The backoff precedes the attempt it is for.
  close_span(work, work.backoff_span, SpanEvent::Kind::backoff, attempt + 1, nullptr);
  return true;
}

void Supervisor::lost_launch(Supervised& work, const Error& why) {
  work.launch = 0;
  close_span(work, work.attempt_span, SpanEvent::Kind::attempt, work.attempt, &why);
}

void Supervisor::stopped(Supervised& work, const Error& why) {
  work.launch = 0;
  close_span(work, work.attempt_span, SpanEvent::Kind::attempt, work.attempt, &why);
  close_span(work, work.backoff_span, SpanEvent::Kind::backoff, work.attempt + 1, &why);
}

void Supervisor::report(AttemptEvent::Kind kind, const Supervised& work, const Error& error,
                        Millis delay) const {
  spec_->scope.hooks->report_attempt(kind, spec_->path, work.item, work.attempt, error, delay);
}

void Supervisor::close_span(const Supervised& work, OpenSpan& span, SpanEvent::Kind kind,
                            std::uint32_t attempt, const Error* error) const {
  detail::close_span(spans_, span, kind, spec_->path, work.item, attempt, work.parent_span, error);
}

} // namespace actorflow::actors
