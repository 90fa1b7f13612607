#pragma once
/// `VectorIndex`: embedded items in memory, searched by cosine similarity.

#include <actorflow/ingest/item.hpp>
#include <actorflow/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace actorflow {

/// One result of a `VectorIndex` query.
struct VectorHit {
  std::string id{};
  double score = 0.0;    ///< cosine similarity, in [-1, 1]
  std::size_t index = 0; ///< position in `VectorIndex::items()`; stable, items are never removed
};

/// Embedded items in memory, searched by cosine similarity with a linear scan: for thousands of
/// items, not millions.
///
/// Not synchronised: concurrent `query` calls are safe, `add` needs exclusive access.
class VectorIndex {
public:
  /// Adds `item`. Errors (bad_input): it has no embedding, its embedding holds a NaN or
  /// infinity, or its dimension differs from the first item's. Ids are not checked for
  /// uniqueness.
  Result<void> add(IngestItem item);

  /// The `k` items most similar to `embedding`, best first; ties keep insertion order. Fewer
  /// than `k` if the index holds fewer; none for an empty index. A zero vector scores 0
  /// against everything. Errors (bad_input): a dimension other than the index's, or a NaN or
  /// infinity in `embedding`.
  [[nodiscard]] Result<std::vector<VectorHit>> query(const std::vector<float>& embedding,
                                                     std::size_t k) const;

  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  /// The embedding dimension; 0 until the first `add`.
  [[nodiscard]] std::size_t dimension() const noexcept { return dimension_; }
  [[nodiscard]] const std::vector<IngestItem>& items() const noexcept { return items_; }

private:
  std::vector<IngestItem> items_;
  std::vector<double> squared_norms_; // of items_[i].embedding, computed once by add
  std::size_t dimension_ = 0;
};

} // namespace actorflow
