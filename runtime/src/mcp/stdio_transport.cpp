// MCP over stdio: the server is a child process; messages are lines of JSON on its stdin and
// stdout. stdin and stdout are socket pairs, not pipes, so that a write to a server that died
// fails with EPIPE (MSG_NOSIGNAL) instead of killing this process with SIGPIPE. One reader
// thread per server reads its stdout (and drains its stderr, keeping the last line for error
// messages).
#include "mcp/transport.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

extern char** environ;

namespace actorflow::mcp {

namespace {

/// A line longer than this is not a message any server should send: the stream is broken.
constexpr std::size_t max_line = 64u << 20;

class StdioTransport final : public Transport {
public:
  StdioTransport(Sink sink, pid_t pid, int in, int out, int err, std::string program)
      : sink_(std::move(sink)), pid_(pid), in_(in), out_(out), err_(err),
        program_(std::move(program)) {
    reader_ = std::thread([this] { read_loop(); });
  }

  ~StdioTransport() override { close(); }

  void close() override {
    std::lock_guard guard(close_mutex_);
    if (closed_)
      return;
    closed_ = true;
    // Closing its stdin asks the server to end (the spec's way); then SIGTERM, then SIGKILL,
    // to its whole process group (launchers such as npx or sh start the real server as a
    // grandchild). Not under write_mutex_: a send blocked on a full pipe must not hold us.
    ::shutdown(in_, SHUT_WR);
    if (!wait_exited(std::chrono::seconds(2))) {
      ::kill(-pid_, SIGTERM);
      if (!wait_exited(std::chrono::seconds(2))) {
        ::kill(-pid_, SIGKILL);
        // Something may still hold the server's stdout: end the reader from this side.
        ::shutdown(out_, SHUT_RDWR);
      }
    }
    reader_.join();
    ::close(in_);
    ::close(out_);
    ::close(err_);
  }

  void send(std::string message, std::uint64_t) override {
    message += '\n';
    std::lock_guard guard(write_mutex_);
    std::size_t sent = 0;
    while (sent < message.size()) {
      auto n = ::send(in_, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return; // the reader sees the end and fails every waiting call
      sent += static_cast<std::size_t>(n);
    }
  }

  [[nodiscard]] std::optional<int> process_id() const override { return pid_; }

private:
  bool wait_exited(std::chrono::milliseconds bound) {
    std::unique_lock lock(exit_mutex_);
    return exit_cv_.wait_for(lock, bound, [&] { return exited_; });
  }

  void read_loop() {
    std::string out_buffer;
    std::string err_buffer;
    bool out_open = true;
    bool err_open = true;
    char chunk[65536];
    while (out_open) {
      pollfd fds[2] = {{out_, POLLIN, 0}, {err_open ? err_ : -1, POLLIN, 0}}; // -1: ignored
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      if (fds[1].revents != 0 && err_open) {
        auto n = ::read(err_, chunk, sizeof chunk);
        if (n <= 0)
          err_open = false;
        else
          keep_last_line(err_buffer, std::string_view(chunk, static_cast<std::size_t>(n)));
      }
      if (fds[0].revents == 0)
        continue;
      auto n = ::recv(out_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        out_open = false;
        break;
      }
      out_buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto end = out_buffer.find('\n'); end != std::string::npos;
           end = out_buffer.find('\n', start)) {
        std::string_view line(out_buffer.data() + start, end - start);
        start = end + 1;
        if (!line.empty() && line.back() == '\r')
          line.remove_suffix(1);
        if (!line.empty())
          sink_.on_message(line);
      }
      out_buffer.erase(0, start);
      if (out_buffer.size() > max_line) {
        sink_.on_broken(Error{Errc::bad_response,
                              "MCP server '" + program_ + "': a line of over 64 MiB on stdout"});
        out_buffer.clear();
      }
    }
    // stdout ended: the server has exited (or is about to). Reap it and say how it ended.
    int status = 0;
    ::waitpid(pid_, &status, 0);
    {
      std::lock_guard guard(exit_mutex_);
      exited_ = true;
    }
    exit_cv_.notify_all();
    std::string how =
        WIFEXITED(status)     ? "exited with status " + std::to_string(WEXITSTATUS(status))
        : WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                              : "ended";
    std::string text = "MCP server '" + program_ + "' " + how;
    if (!last_err_line_.empty())
      text += " (stderr: " + last_err_line_ + ")";
    sink_.on_broken(Error{Errc::connection_failed, std::move(text)});
  }

  void keep_last_line(std::string& buffer, std::string_view bytes) {
    buffer.append(bytes);
    for (auto end = buffer.find('\n'); end != std::string::npos; end = buffer.find('\n')) {
      if (end > 0)
        last_err_line_ = buffer.substr(0, std::min<std::size_t>(end, 300));
      buffer.erase(0, end + 1);
    }
    if (buffer.size() > 4096)
      buffer.erase(0, buffer.size() - 4096);
  }

  Sink sink_;
  pid_t pid_;
  int in_;
  int out_;
  int err_;
  std::string program_;
  std::string last_err_line_; // the reader thread's
  std::mutex write_mutex_;
  std::mutex close_mutex_;
  bool closed_ = false; // guarded by close_mutex_
  std::mutex exit_mutex_;
  std::condition_variable exit_cv_;
  bool exited_ = false;
  std::thread reader_;
};

} // namespace

Result<std::unique_ptr<Transport>> start_stdio(const McpServer& server, Sink sink) {
  if (server.command.empty())
    return Error{Errc::bad_input, "MCP server: no command to start"};
  const auto& program = server.command.front();
  int in[2];
  int out[2];
  int err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
    return Error{Errc::unavailable, std::string("MCP: socketpair: ") + std::strerror(errno)};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0) {
    ::close(in[0]), ::close(in[1]);
    return Error{Errc::unavailable, std::string("MCP: socketpair: ") + std::strerror(errno)};
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
    return Error{Errc::unavailable, std::string("MCP: pipe: ") + std::strerror(errno)};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  // Its own process group, so that close() can end the server with whatever it started.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<char*> argv;
  for (const auto& a : server.command)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, program.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(in[1]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[0]), ::close(out[0]), ::close(err[0]);
    return Error{Errc::bad_input,
                 "MCP server: cannot start '" + program + "': " + std::strerror(rc)};
  }
  // A server that stops reading its stdin must not hold a sender (an actor's thread) for
  // ever: a send gives up after the server's timeout, and the call then times out.
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(server.timeout.count() / 1000);
  limit.tv_usec = static_cast<suseconds_t>((server.timeout.count() % 1000) * 1000);
  ::setsockopt(in[0], SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  return std::unique_ptr<Transport>(
      std::make_unique<StdioTransport>(std::move(sink), pid, in[0], out[0], err[0], program));
}

} // namespace actorflow::mcp
