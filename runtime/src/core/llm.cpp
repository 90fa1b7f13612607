#include <actorflow/llm.hpp>
#include <actorflow/tokens.hpp>

#include "core/route_board.hpp"

#include <algorithm>

namespace actorflow {

ModelProvider::~ModelProvider() = default;

// -- registry ---------------------------------------------------------------------------------

ModelRegistry& ModelRegistry::add(std::string name, ModelProviderPtr provider) {
  if (first_added_.empty())
    first_added_ = name;
  providers_[std::move(name)] = std::move(provider);
  return *this;
}

ModelRegistry& ModelRegistry::route(std::string model, ModelRoute route) {
  if (!routes_)
    routes_ = std::make_shared<detail::RouteBoard>();
  routes_->set(std::move(model), std::move(route));
  return *this;
}

ModelRegistry& ModelRegistry::set_default(std::string name) {
  default_ = std::move(name);
  return *this;
}

ModelProviderPtr ModelRegistry::find(std::string_view name) const {
  auto it = providers_.find(name);
  return it == providers_.end() ? nullptr : it->second;
}

Result<ModelProviderPtr> ModelRegistry::get(std::string_view name) const {
  if (auto provider = find(name))
    return provider;
  std::string known;
  for (const auto& [configured, provider] : providers_)
    known.append(known.empty() ? "" : ", ").append(configured);
  return Error{Errc::bad_input, "no model provider named '" + std::string(name) +
                                    "' (configured: " + (known.empty() ? "none" : known) + ")"};
}

std::string ModelRegistry::default_name() const {
  if (!default_.empty())
    return default_;
  return first_added_.empty() ? "local" : first_added_;
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, provider] : providers_)
    out.push_back(name);
  return out;
}

// -- token accounting ---------------------------------------------------------------------------

namespace {

/// Message overhead in OpenAI's chat format: each message costs its role and separators.
constexpr std::uint64_t tokens_per_message = 3;

} // namespace

std::uint64_t estimate_prompt_tokens(const ChatRequest& request, const TokenEstimator& tokens) {
  std::uint64_t total = 0;
  for (const auto& m : request.messages) {
    // content as is when there are no parts: this runs for every model call, and text() copies.
    total +=
        (m.parts.empty() ? tokens.count(m.content) : tokens.count(m.text())) + tokens_per_message;
    for (const auto& call : m.tool_calls)
      total += tokens.count(call.name) + tokens.count(call.arguments);
  }
  // Servers put the tools' definitions into the prompt too.
  for (const auto& tool : request.tools)
    total += tokens.count(tool.name) + tokens.count(tool.description) +
             tokens.count(to_json(tool.parameters));
  return total;
}

std::uint64_t reserved_tokens(const ChatRequest& request) {
  return estimate_prompt_tokens(request, default_token_estimator()) +
         request.max_tokens.value_or(0);
}

std::uint64_t reserved_tokens(const EmbedRequest& request) {
  std::uint64_t tokens = 0;
  for (const auto& text : request.texts)
    tokens += default_token_estimator().count(text);
  return tokens;
}

} // namespace actorflow
