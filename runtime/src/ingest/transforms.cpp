// The built-in transformations: split into chunks, extract a title, embed.

#include <actorflow/ingest/pipeline.hpp>
#include <actorflow/ingest/splitter.hpp>

#include "core/text.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace actorflow {

namespace {

using Items = std::vector<IngestItem>;

Error bad_input(std::string message) { return Error{Errc::bad_input, std::move(message)}; }

std::int64_t as_int64(std::size_t n) { return static_cast<std::int64_t>(n); }

} // namespace

SplitterTransform::SplitterTransform(SplitterOptions options) : options_(options) {}

std::string SplitterTransform::settings() const {
  return to_json(Value::object({{"chunk_size", as_int64(options_.chunk_size)},
                                {"chunk_overlap", as_int64(options_.chunk_overlap)},
                                {"estimator", "default"}}));
}

Result<void> SplitterTransform::check() const {
  auto splitter = SentenceSplitter::make(options_);
  if (!splitter)
    return splitter.error();
  return {};
}

Task<Result<std::vector<IngestItem>>> SplitterTransform::apply(std::vector<IngestItem> items,
                                                               Context&) {
  auto splitter = SentenceSplitter::make(options_);
  if (!splitter)
    co_return splitter.error();
  Items out;
  for (const auto& item : items) {
    auto chunks = splitter->split_document(item);
    std::move(chunks.begin(), chunks.end(), std::back_inserter(out));
  }
  co_return out;
}

namespace {

constexpr std::string_view title_prompt = "Write a short title for this document:\n";

// The document a group of items shows, up to `max_bytes` bytes: the text itself for a
// document; for the splitter's chunks (metadata "start"/"end" in order) the document's text
// rebuilt from them without the overlaps, so the title is the same as before the split;
// otherwise the texts joined by newlines.
std::string document_text(const Items& items, std::size_t max_bytes) {
  bool spans = true;
  for (const auto& item : items) {
    const Value* start = item.metadata.count("start") ? &item.metadata.at("start") : nullptr;
    const Value* end = item.metadata.count("end") ? &item.metadata.at("end") : nullptr;
    spans = spans && start && end && start->is_int() && end->is_int() &&
            end->as_int() - start->as_int() == as_int64(item.text.size());
  }
  std::string text;
  std::int64_t covered = 0; // of the document, by the chunks so far
  for (const auto& item : items) {
    if (text.size() >= max_bytes)
      break;
    if (spans) {
      const auto start = item.metadata.at("start").as_int();
      const auto skip = static_cast<std::size_t>(
          std::clamp<std::int64_t>(covered - start, 0, as_int64(item.text.size())));
      text.append(item.text, skip);
      covered = std::max(covered, item.metadata.at("end").as_int());
    } else {
      text.append(text.empty() ? "" : "\n").append(item.text);
    }
  }
  return std::string(detail::utf8_prefix(text, max_bytes));
}

} // namespace

TitleExtractor::TitleExtractor(TitleOptions options) : options_(std::move(options)) {}

std::string TitleExtractor::settings() const {
  return to_json(Value::object({{"prompt", std::string(title_prompt)},
                                {"max_text_bytes", as_int64(options_.max_text_bytes)},
                                {"max_tokens", as_int64(options_.max_tokens)},
                                {"temperature", 0.0},
                                {"metadata_key", options_.metadata_key}}));
}

Result<void> TitleExtractor::check() const {
  if (options_.max_text_bytes == 0 || options_.max_tokens == 0 || options_.metadata_key.empty())
    return bad_input("title: max_text_bytes, max_tokens and metadata_key must not be 0 or empty");
  return {};
}

Task<Result<std::vector<IngestItem>>> TitleExtractor::apply(std::vector<IngestItem> items,
                                                            Context& ctx) {
  // One title per document, in case a caller hands over items of several.
  std::vector<std::pair<std::string, std::vector<std::size_t>>> documents;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& doc = items[i].ref_doc_id.empty() ? items[i].id : items[i].ref_doc_id;
    if (documents.empty() || documents.back().first != doc)
      documents.emplace_back(doc, std::vector<std::size_t>{});
    documents.back().second.push_back(i);
  }
  const LlmClient llm = options_.provider.empty() ? ctx.llm() : ctx.llm(options_.provider);
  for (const auto& document : documents) {
    const std::string& doc = document.first;
    const std::vector<std::size_t>& members = document.second;
    Items group;
    for (auto i : members)
      group.push_back(items[i]);
    ChatRequest request = ChatRequest::user(std::string(title_prompt) +
                                            document_text(group, options_.max_text_bytes));
    request.max_tokens = options_.max_tokens;
    request.temperature = 0.0;
    auto reply = co_await llm.chat(std::move(request));
    if (!reply)
      co_return Error{reply.error().code, "title of '" + doc + "': " + reply.error().message,
                      reply.error().retry_after};
    std::string_view title = detail::trim(reply->text);
    if (title.size() >= 2 && title.front() == '"' && title.back() == '"')
      title = detail::trim(title.substr(1, title.size() - 2));
    for (auto i : members)
      items[i].metadata.insert_or_assign(options_.metadata_key, std::string(title));
  }
  co_return items;
}

Embedder::Embedder(std::size_t batch_size, std::string provider, std::string model)
    : batch_size_(batch_size), provider_(std::move(provider)), model_(std::move(model)) {}

std::string Embedder::settings() const {
  return to_json(Value::object({{"model", model_}, {"input", "text"}}));
}

Result<void> Embedder::check() const {
  if (batch_size_ == 0)
    return bad_input("embed: batch_size must be at least 1");
  return {};
}

Task<Result<std::vector<IngestItem>>> Embedder::apply(std::vector<IngestItem> items, Context& ctx) {
  EmbedRequest request;
  request.model = model_;
  request.texts.reserve(items.size());
  for (const auto& item : items)
    request.texts.push_back(item.text);
  const LlmClient llm = provider_.empty() ? ctx.llm() : ctx.llm(provider_);
  auto reply = co_await llm.embed(std::move(request));
  if (!reply)
    co_return reply.error();
  if (reply->vectors.size() != items.size())
    co_return Error{Errc::bad_response, "embed: " + std::to_string(items.size()) + " texts gave " +
                                            std::to_string(reply->vectors.size()) + " vectors"};
  for (std::size_t i = 0; i < items.size(); ++i)
    items[i].embedding = std::move(reply->vectors[i]);
  co_return items;
}

} // namespace actorflow
