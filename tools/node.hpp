#pragma once
// `actorflow node`: a daemon that runs batch items for other Runtimes (actorflow/cluster.hpp).

#include <cstddef>
#include <cstdint>
#include <string>

namespace actorflow::tools {

struct NodeOptions {
  std::uint16_t port = 0;
  std::string bind = "127.0.0.1";
  std::size_t workers = 0;  // scheduler threads; 0: one per core, at least 2
  std::size_t capacity = 0; // items at once; 0: 64 per worker
  std::string certificate, key, ca;
  bool insecure = false;
};

/// Serves until SIGINT or SIGTERM; prints one JSON line once listening.
int run_node(const NodeOptions& options);

} // namespace actorflow::tools
