#pragma once
// `actorflow ui`: a browser view of the runs in a checkpoint store (and their trace files),
// served on loopback; read-only.

#include <cstdint>
#include <string>

namespace actorflow::tools {

struct UiOptions {
  std::string db;       ///< the checkpoint store: an SQLite file or a postgresql:// URL
  std::string traces{}; ///< the folder of `<run_id>.json` traces ("" none)
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080; ///< 0: any free port (the printed URL says which)
};

/// Serves until SIGINT or SIGTERM; prints "actorflow ui: serving http://HOST:PORT/" once it
/// listens. Returns the exit code: 1 (with the reason on stderr) when the store cannot be
/// opened or the port cannot be bound.
int ui(const UiOptions& options);

} // namespace actorflow::tools
