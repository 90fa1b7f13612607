// VectorIndex: exact cosine search over embedded items.

#include <actorflow/ingest/vector_index.hpp>

#include "ingest/ingest_support.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace actorflow {

using detail::bad_input;
using detail::first_non_finite;
using detail::in_quotes;

// -- vector index ---------------------------------------------------------------------------

namespace {

double squared_norm(const std::vector<float>& v) {
  double sum = 0.0;
  for (float x : v)
    sum += static_cast<double>(x) * static_cast<double>(x);
  return sum;
}

} // namespace

Result<void> VectorIndex::add(IngestItem item) {
  const std::string what = "VectorIndex::add: item " + in_quotes(item.id);
  if (item.embedding.empty())
    return bad_input(what + " has no embedding");
  if (const auto bad = first_non_finite(item.embedding))
    return bad_input(what + ": embedding[" + std::to_string(*bad) + "] is not finite");
  if (dimension_ != 0 && item.embedding.size() != dimension_)
    return bad_input(what + " has dimension " + std::to_string(item.embedding.size()) +
                     ", the index " + std::to_string(dimension_));
  dimension_ = item.embedding.size();
  squared_norms_.push_back(squared_norm(item.embedding));
  items_.push_back(std::move(item));
  return {};
}

Result<std::vector<VectorHit>> VectorIndex::query(const std::vector<float>& embedding,
                                                  std::size_t k) const {
  if (items_.empty())
    return std::vector<VectorHit>();
  if (embedding.size() != dimension_)
    return bad_input("VectorIndex::query: dimension " + std::to_string(embedding.size()) +
                     ", the index " + std::to_string(dimension_));
  if (const auto bad = first_non_finite(embedding))
    return bad_input("VectorIndex::query: embedding[" + std::to_string(*bad) + "] is not finite");
  // cosine_similarity's arithmetic, with the norms computed once: the same scores, bit for bit.
  const double query_norm = squared_norm(embedding);
  std::vector<std::pair<double, std::size_t>> scored; // (score, index)
  scored.reserve(items_.size());
  for (std::size_t i = 0; i < items_.size(); ++i) {
    double score = 0.0;
    if (query_norm != 0.0 && squared_norms_[i] != 0.0) {
      const std::vector<float>& other = items_[i].embedding;
      double dot = 0.0;
      for (std::size_t d = 0; d < dimension_; ++d)
        dot += static_cast<double>(embedding[d]) * static_cast<double>(other[d]);
      score = std::clamp(dot / std::sqrt(query_norm * squared_norms_[i]), -1.0, 1.0);
    }
    scored.emplace_back(score, i);
  }
  const auto better = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  const std::size_t n = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                    better);
  std::vector<VectorHit> hits;
  hits.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    hits.push_back({items_[scored[i].second].id, scored[i].first, scored[i].second});
  return hits;
}

} // namespace actorflow
