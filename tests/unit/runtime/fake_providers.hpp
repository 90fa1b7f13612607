#pragma once
// Fake model providers shared by the runtime-area tests.
#include <actorflow/llm.hpp>

#include <doctest/doctest.h>

#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace actorflow::testing_support {

/// A provider whose calls wait until the test answers them, from the test's own thread.
class HeldProvider final : public ModelProvider {
public:
  std::string_view kind() const noexcept override { return "held"; }
  std::string default_model() const override { return "held-1"; }
  void chat(ChatRequest request, ChatDone done) override {
    std::lock_guard guard(mutex_);
    prompts_.push_back(request.prompt());
    pending_.push_back(std::move(done));
  }
  void embed(EmbedRequest, EmbedDone done) override {
    done(ModelOutcome<Embeddings>(Error{Errc::bad_request, "held: no embeddings"}));
  }
  std::size_t pending() {
    std::lock_guard guard(mutex_);
    return pending_.size();
  }
  /// Answers the oldest call.
  void answer(Result<ChatResponse> outcome) {
    ChatDone done;
    {
      std::lock_guard guard(mutex_);
      REQUIRE(!pending_.empty());
      done = std::move(pending_.front());
      pending_.pop_front();
    }
    done(ModelOutcome<ChatResponse>(std::move(outcome)));
  }
  std::vector<std::string> prompts() {
    std::lock_guard guard(mutex_);
    return prompts_;
  }

private:
  std::mutex mutex_;
  std::deque<ChatDone> pending_;
  std::vector<std::string> prompts_;
};

/// FAKE: answers every chat at once with "ok", and records where each call was made.
class OriginRecorder final : public ModelProvider {
public:
  std::string_view kind() const noexcept override { return "origin_recorder"; }
  std::string default_model() const override { return "rec-1"; }
  void chat(ChatRequest request, ChatDone done) override {
    {
      std::lock_guard guard(mutex_);
      origins_.push_back(request.origin);
    }
    ChatResponse answer;
    answer.text = "ok";
    done(ModelOutcome<ChatResponse>(std::move(answer)));
  }
  void embed(EmbedRequest request, EmbedDone done) override {
    {
      std::lock_guard guard(mutex_);
      origins_.push_back(request.origin);
    }
    done(ModelOutcome<Embeddings>(Error{Errc::bad_request, "origin_recorder: no embeddings"}));
  }
  std::vector<CallOrigin> origins() {
    std::lock_guard guard(mutex_);
    return origins_;
  }

private:
  std::mutex mutex_;
  std::vector<CallOrigin> origins_;
};

} // namespace actorflow::testing_support
