#include "subprocess.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace actorflow::tools {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// poll()'s timeout for what is left until `deadline`, rounded up so a wait never ends early.
int poll_timeout(Clock::time_point deadline) {
  auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<milliseconds::rep>(left.count(), 0, 60'000));
}

void close_fd(int& fd) noexcept {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

} // namespace

Result<Subprocess> Subprocess::start(std::vector<std::string> argv) {
  if (argv.empty())
    return Error{Errc::bad_input, "Subprocess::start: no program given"};
  // Everything the child needs is prepared before fork: between fork and exec the child of a
  // multithreaded process may only make async-signal-safe calls.
  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(arg.data());
  args.push_back(nullptr);
  int output[2];
  int exec_report[2]; // the child writes errno here if exec fails; exec closes it otherwise
  if (::pipe2(output, O_CLOEXEC) != 0)
    return Error{Errc::unavailable, std::string("pipe2: ") + std::strerror(errno)};
  if (::pipe2(exec_report, O_CLOEXEC) != 0) {
    int error = errno;
    ::close(output[0]);
    ::close(output[1]);
    return Error{Errc::unavailable, std::string("pipe2: ") + std::strerror(error)};
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int error = errno;
    for (int fd : {output[0], output[1], exec_report[0], exec_report[1]})
      ::close(fd);
    return Error{Errc::unavailable, std::string("fork: ") + std::strerror(error)};
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) // the parent ended before prctl took effect
      ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr); // a blocked mask would survive exec
    ::signal(SIGPIPE, SIG_DFL);                 // and so would an ignored SIGPIPE
    ::dup2(output[1], STDOUT_FILENO);           // dup2 clears O_CLOEXEC on the copy
    ::execv(args[0], args.data());
    int error = errno;
    [[maybe_unused]] auto written = ::write(exec_report[1], &error, sizeof error);
    ::_exit(127);
  }
  ::close(output[1]);
  ::close(exec_report[1]);
  int exec_error = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_report[0], &exec_error, sizeof exec_error);
  } while (got < 0 && errno == EINTR);
  ::close(exec_report[0]);
  if (got == static_cast<ssize_t>(sizeof exec_error)) {
    ::waitpid(pid, nullptr, 0);
    ::close(output[0]);
    return Error{Errc::unavailable, "cannot run " + argv[0] + ": " + std::strerror(exec_error)};
  }
  // Safe from pid reuse: the child stays a zombie, holding its pid, until waitpid.
  int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  return Subprocess(pid, output[0], pid_fd);
}

Subprocess::Subprocess(pid_t pid, int stdout_fd, int pid_fd) noexcept
    : pid_(pid), stdout_fd_(stdout_fd), pid_fd_(pid_fd) {}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      pid_fd_(std::exchange(other.pid_fd_, -1)), reaped_(other.reaped_),
      exit_status_(other.exit_status_), pending_(std::move(other.pending_)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    end();
    pid_ = std::exchange(other.pid_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    pid_fd_ = std::exchange(other.pid_fd_, -1);
    reaped_ = other.reaped_;
    exit_status_ = other.exit_status_;
    pending_ = std::move(other.pending_);
  }
  return *this;
}

Subprocess::~Subprocess() { end(); }

void Subprocess::end() noexcept {
  if (pid_ > 0 && !reaped_) {
    signal(SIGTERM);
    if (!wait_exit(std::chrono::seconds(2))) {
      signal(SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
  }
  close_all();
  pid_ = -1;
}

void Subprocess::close_all() noexcept {
  close_fd(stdout_fd_);
  close_fd(pid_fd_);
}

std::optional<std::string> Subprocess::read_line(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto end_of_line = pending_.find('\n'); end_of_line != std::string::npos) {
      std::string line = pending_.substr(0, end_of_line);
      pending_.erase(0, end_of_line + 1);
      return line;
    }
    if (stdout_fd_ < 0) { // the child closed its stdout
      if (pending_.empty())
        return std::nullopt;
      return std::exchange(pending_, {});
    }
    pollfd readable{.fd = stdout_fd_, .events = POLLIN, .revents = 0};
    int ready = ::poll(&readable, 1, poll_timeout(deadline));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return std::nullopt; // timed out
    char buffer[4096];
    ssize_t got = ::read(stdout_fd_, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (got <= 0)
      close_fd(stdout_fd_);
    else
      pending_.append(buffer, static_cast<std::size_t>(got));
  }
}

void Subprocess::signal(int signal) {
  if (pid_ > 0 && !reaped_)
    ::kill(pid_, signal);
}

bool Subprocess::wait_exit(milliseconds timeout, int* status) {
  auto deadline = Clock::now() + timeout;
  while (!reaped_ && pid_ > 0) {
    int raw = 0;
    pid_t done = ::waitpid(pid_, &raw, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      exit_status_ = raw;
      break;
    }
    if (done < 0 && errno != EINTR)
      return false; // not our child (cannot happen while we hold it unreaped)
    if (Clock::now() >= deadline)
      return false;
    if (pid_fd_ >= 0) {
      pollfd exited{.fd = pid_fd_, .events = POLLIN, .revents = 0};
      ::poll(&exited, 1, poll_timeout(deadline));
    } else { // a kernel without pidfd_open: look again shortly
      timespec pause{.tv_sec = 0, .tv_nsec = 2'000'000};
      ::nanosleep(&pause, nullptr);
    }
  }
  if (status != nullptr)
    *status = exit_status_;
  return reaped_;
}

// -- the sim as a child process -------------------------------------------------------------

Result<ListeningChild> ListeningChild::start(const std::string& program, const std::string& command,
                                             std::vector<std::string> extra_args,
                                             std::uint16_t port) {
  std::vector<std::string> argv{program, command, "--port", std::to_string(port)};
  argv.insert(argv.end(), std::make_move_iterator(extra_args.begin()),
              std::make_move_iterator(extra_args.end()));
  const auto who = "actorflow " + command;
  auto started = Subprocess::start(std::move(argv));
  if (!started)
    return Error{started.error().code, who + ": " + started.error().message};
  auto line = started->read_line(std::chrono::seconds(10));
  if (!line)
    return Error{Errc::unavailable,
                 who + " did not print its port within 10 s (its stderr says why)"};
  auto listening = nlohmann::json::parse(*line, nullptr, false);
  if (listening.is_discarded() || !listening.contains("port") ||
      !listening["port"].is_number_unsigned() || listening["port"].get<unsigned>() == 0)
    return Error{Errc::unavailable, who + ": unexpected first line: " + *line};
  return ListeningChild{std::move(started).value(), listening["port"].get<std::uint16_t>()};
}

Result<SimChild> SimChild::start(const std::string& program, std::vector<std::string> extra_args) {
  auto child = ListeningChild::start(program, "sim", std::move(extra_args));
  if (!child)
    return child.error();
  return SimChild{std::move(child->process), child->port};
}

std::string SimChild::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port) + "/v1";
}

Result<nlohmann::json> SimChild::stats() const {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/stats");
  if (!res)
    return Error{Errc::connection_failed, "GET /stats: " + httplib::to_string(res.error())};
  auto stats = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || !stats.is_object())
    return Error{Errc::server_error,
                 "GET /stats: HTTP " + std::to_string(res->status) + ": " + res->body};
  return stats;
}

} // namespace actorflow::tools
