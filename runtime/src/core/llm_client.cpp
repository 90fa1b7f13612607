#include <actorflow/context.hpp>

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
            lease->end(usage_of(*outcome.result), outcome.rate_limits, std::nullopt);
          } else
            lease->end(Usage{}, outcome.rate_limits, outcome.result.error());
          slot->emplace(std::move(outcome));
          wake();
        };
        try {
          call(std::move(ended));
        } catch (const std::exception& e) {
          // A provider must report failures through `done`; one that throws still ends the call.
          Error error{Errc::internal, std::string("model provider threw: ") + e.what()};
          lease->end(Usage{}, RateLimitInfo{}, error);
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

} // namespace

Task<Result<ChatResponse>> LlmClient::chat(ChatRequest request) const {
  if (!provider_)
    return failed<ChatResponse>(no_such_provider(*host_, name_));
  auto tokens = reserved_tokens(request);
  auto model = model_of(request.model, provider_->default_model());
  // A run that streams tokens streams every chat call of its nodes, labelled with the node.
  if (auto sink = host_->token_sink()) {
    if (request.on_token)
      request.on_token = [sink = std::move(sink),
                          own = std::move(request.on_token)](std::string_view piece) {
        own(piece);
        sink(piece);
      };
    else
      request.on_token = std::move(sink);
  }
  Call<ChatResponse> call = [provider = provider_,
                             request = std::move(request)](ModelProvider::ChatDone done) mutable {
    provider->chat(std::move(request), std::move(done));
  };
  return gated_call<ChatResponse>(host_, name_, std::move(model), tokens, provider_->batched(),
                                  std::move(call));
}

Task<Result<ChatResponse>> LlmClient::chat(std::string prompt) const {
  return chat(ChatRequest::user(std::move(prompt)));
}

Task<Result<Embeddings>> LlmClient::embed(EmbedRequest request) const {
  if (!provider_)
    return failed<Embeddings>(no_such_provider(*host_, name_));
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
