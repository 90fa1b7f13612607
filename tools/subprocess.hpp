#pragma once
// Child processes for tests and benches: start a program with its stdout on a pipe, read its
// lines, signal it and wait for it, every wait bounded. Linux only.

#include <actorflow/result.hpp>

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actorflow::tools {

/// A running child. Its stdout comes here through a pipe; its stderr is this process's.
/// The child gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so a test
/// that crashes leaves nothing running: start it from a thread that outlives it.
/// One owner at a time: not thread-safe. Movable, not copyable.
class Subprocess {
public:
  /// Starts `argv[0]` (a path; PATH is not searched) with `argv` as its arguments. An error
  /// (unavailable) names the program and the reason when it cannot be run.
  [[nodiscard]] static Result<Subprocess> start(std::vector<std::string> argv);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  /// Ends the child if it still runs: SIGTERM, at most 2 s to exit, then SIGKILL. Always reaps.
  ~Subprocess();

  /// The next line of the child's stdout, without its '\n'. None if no full line came within
  /// `timeout`, or the child closed its stdout (a last unterminated line is still returned).
  [[nodiscard]] std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Sends `signal` (e.g. SIGTERM) unless the child was already reaped.
  void signal(int signal);
  /// Waits at most `timeout` for the child to exit; true once it has (and then `*status` holds
  /// its waitpid status, e.g. for WIFEXITED / WEXITSTATUS). The child is reaped on exit.
  bool wait_exit(std::chrono::milliseconds timeout, int* status = nullptr);

private:
  Subprocess(pid_t pid, int stdout_fd, int pid_fd) noexcept;
  void close_all() noexcept;
  void end() noexcept;

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int pid_fd_ = -1; ///< pidfd_open's descriptor: poll() on it wakes when the child exits
  bool reaped_ = false;
  int exit_status_ = 0;
  std::string pending_; ///< read from stdout, not yet returned as a line
};

/// An actorflow daemon (`sim`, `node`) started as `program command --port PORT <extra_args>`,
/// and the port it reported in its first line ({"port": P, ...}).
struct ListeningChild {
  Subprocess process;
  std::uint16_t port = 0;

  /// Reads the first line for the port (at most 10 s); the error says why it did not come
  /// (the child's stderr says more). `port` 0: the child picks a free one.
  [[nodiscard]] static Result<ListeningChild> start(const std::string& program,
                                                    const std::string& command,
                                                    std::vector<std::string> extra_args,
                                                    std::uint16_t port = 0);
};

/// An `actorflow sim` process started with `--port 0`, and the port it reported.
struct SimChild {
  Subprocess process;
  std::uint16_t port = 0;

  /// Starts `program sim --port 0 <extra_args>` and reads its first line for the port (at
  /// most 10 s). The error says why when it does not come (the sim's stderr says more).
  [[nodiscard]] static Result<SimChild> start(const std::string& program,
                                              std::vector<std::string> extra_args);

  /// "http://127.0.0.1:PORT/v1", what an OpenAI client takes as its base URL.
  [[nodiscard]] std::string base_url() const;
  /// GET /stats, parsed.
  [[nodiscard]] Result<nlohmann::json> stats() const;
};

} // namespace actorflow::tools
