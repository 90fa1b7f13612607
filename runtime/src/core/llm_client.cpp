#include <actorflow/context.hpp>

#include "core/route_board.hpp"

#include <algorithm>
#include <initializer_list>
#include <string_view>
#include <type_traits>

namespace actorflow {

namespace {

Error no_such_provider(const detail::ExecHost& host, const std::string& name) {
  return host.models().get(name).error();
}

template <class T>
using Slot = std::shared_ptr<std::optional<ModelOutcome<T>>>;
template <class T>
using Call = std::function<void(std::function<void(ModelOutcome<T>)> done)>;

Usage& usage_of(ChatResponse& r) { return r.usage; }
Usage& usage_of(Embeddings& e) { return e.usage; }

// What a call was, for OpenTelemetry's gen_ai.operation.name.
template <class T>
constexpr std::string_view operation_of() {
  return std::is_same_v<T, Embeddings> ? "embeddings" : "chat";
}
detail::ModelLease::Facts facts_of(const ChatResponse& r) {
  return {operation_of<ChatResponse>(), r.model, r.finish_reason};
}
detail::ModelLease::Facts facts_of(const Embeddings& e) {
  return {operation_of<Embeddings>(), e.model, {}};
}

/// One rule for every provider: a total the provider left out is the sum of its parts, so the
/// item's tokens, the lease's settlement and the run's usage all count the same.
void normalise(Usage& usage) {
  if (usage.total_tokens == 0)
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
}

/// Binds one provider call to `slot`: the provider's completion (on whatever thread) ends the
/// lease with what the call used, writes the outcome to the slot and wakes the node's actor,
/// which resumes the awaiting coroutine. The slot is shared so that a completion arriving
/// after the attempt was abandoned (timeout, cancel) writes into live memory; the lease is
/// ended either way, so the key's accounting never depends on the node still being there.
template <class T>
std::function<void(std::function<void()>)> bind_call(Slot<T> slot, detail::ModelLeasePtr lease,
                                                     Call<T> call) {
  return
      [slot, lease = std::move(lease), call = std::move(call)](std::function<void()> wake) mutable {
        auto ended = [slot, lease, wake](ModelOutcome<T> outcome) {
          if (outcome.result.ok()) {
            normalise(usage_of(*outcome.result));
            lease->end(usage_of(*outcome.result), outcome.rate_limits, std::nullopt,
                       outcome.batched, facts_of(*outcome.result));
          } else
            lease->end(Usage{}, outcome.rate_limits, outcome.result.error(), outcome.batched,
                       {operation_of<T>(), {}, {}});
          slot->emplace(std::move(outcome));
          wake();
        };
        try {
          call(std::move(ended));
        } catch (const std::exception& e) {
          // A provider must report failures through `done`; one that throws still ends the call.
          Error error{Errc::internal, std::string("model provider threw: ") + e.what()};
          lease->end(Usage{}, RateLimitInfo{}, error, std::nullopt, {operation_of<T>(), {}, {}});
          slot->emplace(std::move(error));
          wake();
        }
      };
}

// The coroutine takes only plain class types: GCC 12 mis-copies closure-typed coroutine
// parameters (seen under ASan as a bad free of a captured std::string).
//
// First the grant of the key's resource controller (waited for without holding a thread),
// then the call itself.
template <class T>
Task<Result<T>> gated_call(detail::ExecHost* host, std::string provider, std::string model,
                           std::uint64_t estimated_tokens, bool batched, Call<T> call) {
  auto lease = co_await detail::HostAwaiter<
      Result<detail::ModelLeasePtr>,
      std::function<void(std::coroutine_handle<>, std::optional<Result<detail::ModelLeasePtr>>&)>>(
      [&](std::coroutine_handle<> h, std::optional<Result<detail::ModelLeasePtr>>& out) {
        host->acquire(provider, model, estimated_tokens, batched, h, out);
      });
  if (!lease)
    co_return lease.error();
  auto slot = std::make_shared<std::optional<ModelOutcome<T>>>();
  co_await detail::ExternalAwaiter(*host, bind_call<T>(slot, std::move(*lease), std::move(call)));
  auto& result = (*slot)->result;
  if (result.ok())
    host->add_used_tokens(usage_of(*result).total_tokens);
  co_return std::move(result);
}

template <class T>
Task<Result<T>> failed(Error e) {
  co_return e;
}

/// The model a call goes to: its own, else the provider's default (the controller's key).
std::string model_of(const std::string& requested, std::string fallback) {
  return requested.empty() ? std::move(fallback) : requested;
}

/// One chat call to `provider` (registered as `name`), gated by its key's controller.
Task<Result<ChatResponse>> chat_on(detail::ExecHost* host, const std::string& name,
                                   const ModelProviderPtr& provider, ChatRequest request) {
  auto tokens = reserved_tokens(request);
  auto model = model_of(request.model, provider->default_model());
  // A run that streams tokens streams every chat call of its nodes, labelled with the node.
  if (auto sink = host->token_sink()) {
    if (request.on_token)
      request.on_token = [sink = std::move(sink),
                          own = std::move(request.on_token)](std::string_view piece) {
        own(piece);
        sink(piece);
      };
    else
      request.on_token = std::move(sink);
  }
  Call<ChatResponse> call = [provider,
                             request = std::move(request)](ModelProvider::ChatDone done) mutable {
    provider->chat(std::move(request), std::move(done));
  };
  return gated_call<ChatResponse>(host, name, std::move(model), tokens, provider->batched(),
                                  std::move(call));
}

/// What a route does after a failed call on a target.
enum class OnFailure : std::uint8_t { give_up, retry, wait, move_on };

bool contains_any(const std::string& text, std::initializer_list<std::string_view> words) {
  return std::any_of(words.begin(), words.end(),
                     [&](std::string_view w) { return text.find(w) != std::string::npos; });
}

/// Errors another model may cure but this one will not: its context is too short, or its
/// content policy refused (OpenAI's and Azure's codes and words).
bool incurable_here(const Error& error) {
  return error.code == Errc::bad_request &&
         contains_any(error.message,
                      {"context_length_exceeded", "maximum context length", "context window",
                       "content_policy", "content_filter", "content management policy"});
}

OnFailure on_failure(const Error& error, const ModelRoute& route, std::uint32_t retried,
                     bool waited) {
  switch (error.code) {
    case Errc::server_error:
    case Errc::timeout:
    case Errc::connection_failed:
    case Errc::bad_response:
      return retried < route.retries ? OnFailure::retry : OnFailure::move_on;
    case Errc::rate_limited:
      return !waited && error.retry_after && *error.retry_after <= route.max_retry_wait
                 ? OnFailure::wait
                 : OnFailure::move_on;
    default:
      return incurable_here(error) ? OnFailure::move_on : OnFailure::give_up;
  }
}

/// A chat call along `route`: each target in turn (see actorflow/model_route.hpp). Plain
/// class-type parameters only (GCC 12; see gated_call).
Task<Result<ChatResponse>> routed_chat(detail::ExecHost* host,
                                       std::shared_ptr<detail::RouteBoard> board, ModelRoute route,
                                       ChatRequest request) {
  // Each target with its model resolved first: health is kept, and events name, real keys.
  for (RouteTarget& target : route.targets)
    if (auto provider = host->models().find(target.provider); provider && target.model.empty())
      target.model = provider->default_model();
  std::vector<RouteTarget> order = board->order(route, host->now());
  Error last{Errc::bad_input, "model route for '" + request.model + "': it has no targets"};
  for (std::size_t i = 0; i < order.size(); ++i) {
    const RouteTarget target = order[i];
    Result<ModelProviderPtr> provider = host->models().get(target.provider);
    if (!provider)
      co_return provider.error();
    std::uint32_t retried = 0;
    std::uint32_t tries = 0; // on this target
    bool waited = false;
    std::chrono::nanoseconds backoff = route.retry_backoff;
    for (;;) {
      ChatRequest attempt = request;
      attempt.model = target.model;
      // The same call again is another call: its own origin, the same whatever the order.
      if (!attempt.origin.empty())
        attempt.origin.place.append("/")
            .append(target.provider)
            .append("/")
            .append(target.model)
            .append("#")
            .append(std::to_string(tries));
      ++tries;
      // Named before co_await (GCC 12 mis-destroys temporaries inside a co_await expression).
      Task<Result<ChatResponse>> call =
          chat_on(host, target.provider, *provider, std::move(attempt));
      Result<ChatResponse> answer = co_await call;
      if (answer) {
        board->succeeded(target);
        co_return answer;
      }
      last = answer.error();
      const OnFailure next = on_failure(last, route, retried, waited);
      if (next == OnFailure::give_up)
        co_return last;
      if (next == OnFailure::move_on)
        break;
      std::chrono::nanoseconds pause = backoff;
      if (next == OnFailure::wait) {
        waited = true;
        pause = *last.retry_after;
      } else {
        ++retried;
        backoff *= 2;
      }
      detail::SleepAwaiter sleep(*host, pause);
      co_await sleep;
    }
    board->failed(target, route, host->now());
    if (i + 1 < order.size())
      host->report_fallback(target, order[i + 1], last);
  }
  co_return last;
}

} // namespace

Task<Result<ChatResponse>> LlmClient::chat(ChatRequest request) const {
  if (!provider_)
    return failed<ChatResponse>(no_such_provider(*host_, name_));
  // Numbered now, in the order node code makes its calls, not when they first run.
  if (request.origin.empty())
    request.origin = host_->next_call_origin();
  if (const auto& board = host_->models().routes()) {
    const std::string model = model_of(request.model, provider_->default_model());
    if (auto route = board->find(model)) {
      request.model = model;
      return routed_chat(host_, board, std::move(*route), std::move(request));
    }
  }
  return chat_on(host_, name_, provider_, std::move(request));
}

Task<Result<ChatResponse>> LlmClient::chat(std::string prompt) const {
  return chat(ChatRequest::user(std::move(prompt)));
}

Task<Result<Embeddings>> LlmClient::embed(EmbedRequest request) const {
  if (!provider_)
    return failed<Embeddings>(no_such_provider(*host_, name_));
  if (request.origin.empty())
    request.origin = host_->next_call_origin();
  auto tokens = reserved_tokens(request);
  auto model = model_of(request.model, provider_->default_embedding_model());
  Call<Embeddings> call = [provider = provider_,
                           request = std::move(request)](ModelProvider::EmbedDone done) mutable {
    provider->embed(std::move(request), std::move(done));
  };
  return gated_call<Embeddings>(host_, name_, std::move(model), tokens, provider_->batched(),
                                std::move(call));
}

Task<Result<Embeddings>> LlmClient::embed(std::vector<std::string> texts) const {
  EmbedRequest request;
  request.texts = std::move(texts);
  return embed(std::move(request));
}

} // namespace actorflow
