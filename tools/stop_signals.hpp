#pragma once
// The daemons' (`actorflow sim`, `actorflow node`) way to stop: SIGINT or SIGTERM, taken by
// sigwait in main instead of ending the process mid-work.

#include <pthread.h>
#include <signal.h>

namespace actorflow::tools {

/// Blocks SIGINT and SIGTERM (call it before any thread starts: threads inherit the mask) and
/// ignores SIGPIPE, so that a peer hanging up mid-answer does not end the process.
inline sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

/// Waits for one of `stop_signals` (from block_stop_signals).
inline void wait_for_stop_signal(const sigset_t& stop_signals) {
  int signal = 0;
  sigwait(&stop_signals, &signal);
}

} // namespace actorflow::tools
