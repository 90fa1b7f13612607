#pragma once
/// `ProgressBar`: batch progress for terminals and logs, fed by `RunOptions::on_progress`.
///
///     ProgressBar bar{stderr};
///     auto run = runtime.run(flow, state, RunOptions{.on_progress = bar.hook()});
///
/// On a terminal, each running batch has a line that is redrawn in place (`\r`; several
/// batches at once: a block of lines, redrawn with a cursor-up escape): its path, a bar, items
/// done of total, the rate, the ETA and the errors; at most 10 redraws a second, and a newline
/// once every batch in the block has finished. Elsewhere (a file, a pipe, CI logs): a plain
/// line per batch at most every 5 s, and one when it finishes.

#include <actorflow/batch.hpp>
#include <actorflow/events.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

namespace actorflow {

struct ProgressBarOptions {
  /// Whether `out` is a terminal; none: `isatty(fileno(out))`.
  std::optional<bool> tty{};
  /// Terminal: at most one redraw per interval (a batch's last event is always drawn).
  std::chrono::milliseconds tty_interval{100};
  /// Not a terminal: at most one line per batch per interval, plus its last.
  std::chrono::milliseconds plain_interval{5000};
  /// The bar's width in characters.
  std::size_t bar_width = 30;
  /// The clock for rates, ETAs and throttling; empty: std::chrono::steady_clock (tests pass
  /// their own).
  std::function<std::chrono::steady_clock::time_point()> clock{};
};

/// Renders BatchProgress events to a `FILE*` that the caller owns and keeps open while the bar
/// is in use (and its hook: the hook keeps the bar's state alive, not the file).
///
/// Batches are told apart by their node path: two batches of one path running at once (a batch
/// inside the items of another) share a line.
///
/// Thread-safety: `update`, the hook and `finish` may be called from any thread at once; each
/// takes a lock, and writes to `out` under it.
class ProgressBar {
public:
  explicit ProgressBar(std::FILE* out = stderr, ProgressBarOptions options = {});
  /// Calls `finish()`.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// One event of a batch; draws or prints when due.
  void update(const BatchProgress& progress);
  /// For `RunOptions::on_progress` (may outlive the bar).
  [[nodiscard]] std::function<void(const BatchProgress&)> hook() const;
  /// Ends the output: a terminal's live lines get their final draw and a newline; without a
  /// terminal, batches that never finished get a last line. Idempotent.
  void finish();

  /// Whether it renders for a terminal.
  [[nodiscard]] bool tty() const noexcept;

private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

} // namespace actorflow
