#include "store/wal_checkpointer.hpp"

#include "store/sqlite.hpp"

namespace actorflow::detail::sqlite {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(db, busy_timeout_ms);
  if (rc != SQLITE_OK) {
    std::string message = path;
    message += ": open for checkpoints: ";
    message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error{errc_of(rc), std::move(message)};
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(db));
}

WalCheckpointer::WalCheckpointer(sqlite3* db) : db_(db) {
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock{mutex_};
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close(db_);
}

void WalCheckpointer::watch(sqlite3* db) {
  sqlite3_wal_hook(db, &WalCheckpointer::on_commit, this);
}

int WalCheckpointer::on_commit(void* self, sqlite3*, const char*, int pages) {
  auto& checkpointer = *static_cast<WalCheckpointer*>(self);
  int copied = checkpointer.copied_.load(std::memory_order_relaxed);
  if (pages < copied) { // the WAL started over
    checkpointer.copied_.store(0, std::memory_order_relaxed);
    copied = 0;
  }
  if (pages - copied >= wal_pages) {
    {
      std::lock_guard lock{checkpointer.mutex_};
      checkpointer.due_ = true;
    }
    checkpointer.wake_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::checkpoint() {
  // A connection learns that the file is in WAL mode from a read (a file it opened empty, as a
  // new store's is, was not yet): a checkpoint on one that has not read since finds no WAL.
  (void)sqlite3_exec(db_, "SELECT 1 FROM sqlite_master LIMIT 1", nullptr, nullptr, nullptr);
  // A failure (another connection's checkpoint under way, a busy disk) leaves the frames to the
  // next commit's signal: nothing committed depends on a checkpoint.
  int frames = 0;
  int copied = 0;
  if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied) !=
      SQLITE_OK)
    return;
  if (frames > restart_pages && sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_RESTART,
                                                          &frames, &copied) != SQLITE_OK)
    return;
  copied_.store(copied, std::memory_order_relaxed);
}

void WalCheckpointer::loop() {
  std::unique_lock lock{mutex_};
  for (;;) {
    wake_.wait(lock, [&] { return due_ || stop_; });
    if (stop_)
      return; // closing the last connection checkpoints what is left
    due_ = false;
    lock.unlock();
    checkpoint();
    lock.lock();
  }
}

} // namespace actorflow::detail::sqlite
