#pragma once
// Checkpoints a WAL database on a thread of its own. SQLite's automatic checkpoint runs inside
// the commit that takes the WAL past its threshold, and a checkpoint syncs both the WAL and the
// database file: that commit waits for the disk (tens of milliseconds on a busy one, measured up
// to 130) while its thread holds the connection's mutex, and a durable batch's item writer
// stalls behind it. Here the commit only signals, and the checkpoint runs on a connection of
// the checkpointer's own.
//
// Durability is unchanged. A commit is appended to the WAL as before, so a crash of the process
// loses none; a checkpoint syncs the WAL as before, once `wal_pages` frames wait to be copied
// (SQLite's default), so a power cut loses what it lost before, give or take the commits made
// while it runs.
//
// The WAL's size stays bounded. SQLite starts the WAL over only when a write begins with every
// frame copied, which a writer committing during each checkpoint may never see: so the hook
// counts the frames not yet copied (not the WAL's length), and a WAL past `restart_pages` gets
// a RESTART checkpoint, which waits for the writer once and lets the next write start over.

#include <actorflow/result.hpp>

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace actorflow::detail::sqlite {

/// Checkpoints the WAL of the file it was started on whenever a watched connection's commit
/// leaves it at `wal_pages` or more. Passive: it never waits for a reader or a writer, and what
/// a reader still needs stays for the next checkpoint.
///
/// `watch` replaces the connection's automatic checkpoints; the hook it installs may run on any
/// thread. Unwatch (`sqlite3_wal_hook(db, nullptr, nullptr)`) before the destructor, which lets
/// a checkpoint under way finish, then joins and closes its connection.
class WalCheckpointer {
public:
  /// SQLite's own default threshold, so that the WAL is synced as often as before.
  static constexpr int wal_pages = 1000;
  /// A WAL this long is started over (see above): about 16 MB of 4 KiB pages.
  static constexpr int restart_pages = 4 * wal_pages;

  /// Opens a connection of its own to `path` (a WAL database) and starts its thread.
  static Result<std::unique_ptr<WalCheckpointer>> start(const std::string& path);

  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  /// Becomes `db`'s WAL hook, instead of its automatic checkpoints.
  void watch(sqlite3* db);

private:
  explicit WalCheckpointer(sqlite3* db);

  static int on_commit(void* self, sqlite3* db, const char* name, int pages);
  void loop();
  void checkpoint();

  sqlite3* const db_; // used by the thread only, once started
  // Frames of the WAL the last checkpoint copied; a shorter WAL than this has started over.
  std::atomic<int> copied_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;  // guarded by mutex_
  bool stop_ = false; // guarded by mutex_
  std::thread thread_;
};

} // namespace actorflow::detail::sqlite
