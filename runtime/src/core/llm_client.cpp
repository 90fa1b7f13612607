#include <actorflow/context.hpp>

namespace actorflow {

namespace {

Error no_such_provider(const detail::ExecHost& host, const std::string& name) {
  std::string names;
  for (const auto& n : host.models().names())
    names.append(names.empty() ? "" : ", ").append(n);
  return Error{Errc::bad_input,
               "no model provider named '" + name + "' (configured: " + names + ")"};
}

template <class T>
using Slot = std::shared_ptr<std::optional<ModelOutcome<T>>>;

/// Binds one provider call to `slot`: the provider's completion (on whatever thread) writes the
/// outcome there and wakes the node's actor, which resumes the awaiting coroutine. The slot is
/// shared so that a completion arriving after the attempt was abandoned (timeout, cancel)
/// writes into live memory.
template <class T, class Start>
std::function<void(std::function<void()>)> bind_call(Slot<T> slot, Start start) {
  return [slot, start = std::move(start)](std::function<void()> wake) mutable {
    std::function<void(ModelOutcome<T>)> done = [slot, wake](ModelOutcome<T> outcome) {
      slot->emplace(std::move(outcome));
      wake();
    };
    try {
      start(std::move(done));
    } catch (const std::exception& e) {
      // A provider must report failures through `done`; one that throws still ends the call.
      slot->emplace(Error{Errc::internal, std::string("model provider threw: ") + e.what()});
      wake();
    }
  };
}

// The coroutine takes only plain class types: GCC 12 mis-copies closure-typed coroutine
// parameters (seen under ASan as a bad free of a captured std::string).
template <class T>
Task<Result<T>> await_call(detail::ExecHost* host, std::function<void(std::function<void()>)> start,
                           Slot<T> slot) {
  co_await detail::ExternalAwaiter(*host, std::move(start));
  auto& result = (*slot)->result;
  if (result.ok())
    host->count_tokens(result->usage.total_tokens);
  co_return std::move(result);
}

template <class T>
Task<Result<T>> failed(Error e) {
  co_return e;
}

} // namespace

Task<Result<ChatResponse>> LlmClient::chat(ChatRequest request) const {
  if (!provider_)
    return failed<ChatResponse>(no_such_provider(*host_, name_));
  auto slot = std::make_shared<std::optional<ModelOutcome<ChatResponse>>>();
  auto start = bind_call<ChatResponse>(
      slot, [provider = provider_, request = std::move(request)](ModelProvider::ChatDone done) mutable {
        provider->chat(std::move(request), std::move(done));
      });
  return await_call<ChatResponse>(host_, std::move(start), std::move(slot));
}

Task<Result<ChatResponse>> LlmClient::chat(std::string prompt) const {
  return chat(ChatRequest::user(std::move(prompt)));
}

Task<Result<Embeddings>> LlmClient::embed(EmbedRequest request) const {
  if (!provider_)
    return failed<Embeddings>(no_such_provider(*host_, name_));
  auto slot = std::make_shared<std::optional<ModelOutcome<Embeddings>>>();
  auto start = bind_call<Embeddings>(
      slot, [provider = provider_, request = std::move(request)](ModelProvider::EmbedDone done) mutable {
        provider->embed(std::move(request), std::move(done));
      });
  return await_call<Embeddings>(host_, std::move(start), std::move(slot));
}

Task<Result<Embeddings>> LlmClient::embed(std::vector<std::string> texts) const {
  EmbedRequest request;
  request.texts = std::move(texts);
  return embed(std::move(request));
}

} // namespace actorflow
