#pragma once
// `actorflow runs list|show|interrupts|answer|delete`: the durable runs recorded in a
// checkpoint store.

#include <cstddef>
#include <string>
#include <vector>

namespace actorflow::tools {

struct RunsOptions {
  std::string db;                     ///< the checkpoint store's file
  std::vector<std::string> run_ids{}; ///< show, interrupts, answer: one; delete: any number
  std::string interrupt_id{};         ///< answer: the interrupt to answer
  std::string answer{};               ///< answer: the answer, as JSON text
  std::size_t ended_days_ago = 0;     ///< delete: runs that ended this many days ago or more
  bool json = false;
};

int runs_list(const RunsOptions& options);
int runs_show(const RunsOptions& options);
int runs_interrupts(const RunsOptions& options);
int runs_answer(const RunsOptions& options);
int runs_delete(const RunsOptions& options);

} // namespace actorflow::tools
