#pragma once
// A CheckpointStore that forwards to another, for tests' fakes (a store whose commits fail, a
// journal that loses writes).
#include <actorflow/checkpoint.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actorflow::testing_support {

/// A store that hands every call to `inner`: a test's fake overrides only what it changes.
class ForwardingStore : public CheckpointStore {
public:
  explicit ForwardingStore(CheckpointStorePtr inner) : inner_(std::move(inner)) {}
  Result<void> begin_run(std::string_view id, std::string_view flow, const State& s,
                         std::string_view graph = {}) override {
    return inner_->begin_run(id, flow, s, graph);
  }
  Result<Resumable> load_run(std::string_view id) override { return inner_->load_run(id); }
  Result<void> reopen_run(std::string_view id) override { return inner_->reopen_run(id); }
  Result<void> commit_step(std::string_view id, const StepCheckpoint& step) override {
    return inner_->commit_step(id, step);
  }
  Result<void> commit_items(std::string_view id, const std::vector<ItemCheckpoint>& items,
                            double cost = 0) override {
    return inner_->commit_items(id, items, cost);
  }
  Result<std::unordered_map<std::string, ItemOutcome>> load_items(std::string_view id) override {
    return inner_->load_items(id);
  }
  Result<void> save_interrupt(std::string_view id, const Interrupt& interrupt) override {
    return inner_->save_interrupt(id, interrupt);
  }
  Result<void> answer_interrupt(std::string_view id, std::string_view interrupt,
                                const Value& answer) override {
    return inner_->answer_interrupt(id, interrupt, answer);
  }
  Result<std::vector<Interrupt>> load_interrupts(std::string_view id) override {
    return inner_->load_interrupts(id);
  }
  bool keeps_batch_journal() const noexcept override { return inner_->keeps_batch_journal(); }
  Result<void> save_batch_job(const BatchJobRecord& job) override {
    return inner_->save_batch_job(job);
  }
  Result<std::optional<BatchJobRecord>> find_batch_call(std::string_view custom_id) override {
    return inner_->find_batch_call(custom_id);
  }
  Result<void> forget_batch_calls(const std::vector<std::string>& ids) override {
    return inner_->forget_batch_calls(ids);
  }
  Result<void> end_run(std::string_view id, RunStatus status, std::string_view error,
                       double cost = 0) override {
    return inner_->end_run(id, status, error, cost);
  }
  Result<std::vector<RunRecord>> list_runs() override { return inner_->list_runs(); }
  Result<ItemPage> list_items(std::string_view id, const ItemQuery& query) override {
    return inner_->list_items(id, query);
  }
  Result<std::string> load_graph(std::string_view id) override { return inner_->load_graph(id); }
  Result<std::size_t> delete_runs(const std::vector<std::string>& ids) override {
    return inner_->delete_runs(ids);
  }
  Result<std::size_t> delete_ended_before(std::chrono::system_clock::time_point t) override {
    return inner_->delete_ended_before(t);
  }

protected:
  CheckpointStorePtr inner_;
};

} // namespace actorflow::testing_support
