#pragma once
// What both scheduler policies do on their workers: keep CAF's logger away, and spin politely.

#include <caf/logger.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace actorflow::actors {

// CAF 0.17 tags every resume, launch and destruction of an actor with the actor's id for its
// logger: a lookup, under a spin lock that all workers share, in a map keyed by thread. It does
// so although Debian's CAF is built with logging off (CAF_LOG_LEVEL_QUIET), and it cost a tenth
// of a batch's time. The tags are skipped on a thread without a current logger, so a worker
// drops the one CAF gives it (when the worker starts, and at every `spawn`) before it takes a
// job. With logging built in, the logger is kept.
inline void detach_caf_logger() {
#if CAF_LOG_LEVEL == CAF_LOG_LEVEL_QUIET
  if (caf::logger::current_logger() != nullptr)
    caf::logger::set_current_actor_system(nullptr);
#endif
}

// One step of a polling loop: tells the core it spins (saves power, frees a hyperthread).
inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

} // namespace actorflow::actors
