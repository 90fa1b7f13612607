#include <actorflow/progress.hpp>

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace actorflow {

namespace {

using Clock = std::chrono::steady_clock;

/// "0:42", "12:05", "1:02:03".
std::string clock_text(double seconds) {
  auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

std::string rate_text(double per_second) {
  char buf[32];
  std::snprintf(buf, sizeof buf, per_second >= 100 ? "%.0f/s" : "%.1f/s", per_second);
  return buf;
}

/// Appends each part in turn. GCC 12 warns falsely (-Wrestrict) on `"literal" + std::string`
/// temporaries in optimised builds; appending in place avoids them, and the copies too.
template <class... Parts>
void append(std::string& text, const Parts&... parts) {
  (text.append(parts), ...);
}

std::string percent_of(std::size_t done, std::size_t total) {
  return std::to_string(total > 0 ? 100 * done / total : 100);
}

} // namespace

struct ProgressBar::Impl {
  // One batch on screen (or being followed, without a terminal).
  struct Batch {
    BatchProgress last;
    Clock::time_point first_seen;
    std::size_t done_at_first_seen = 0;
    Clock::time_point last_line; // without a terminal: when its last line was printed
    Clock::time_point ended;
    bool finished = false;
  };

  Impl(std::FILE* file, ProgressBarOptions opts)
      : out(file), options(std::move(opts)),
        tty(options.tty.value_or(file != nullptr && isatty(fileno(file)) != 0)) {}

  Clock::time_point now() const { return options.clock ? options.clock() : Clock::now(); }

  /// Items per second since the batch was first seen (its first event comes after its first
  /// 1%: the items done before that are not in the rate).
  static double rate(const Batch& b, Clock::time_point at) {
    auto seconds = std::chrono::duration<double>(at - b.first_seen).count();
    if (seconds <= 0 || b.last.done <= b.done_at_first_seen)
      return 0;
    return static_cast<double>(b.last.done - b.done_at_first_seen) / seconds;
  }

  std::string tty_line(const Batch& b, Clock::time_point at) const {
    const auto& p = b.last;
    auto end = b.finished ? b.ended : at;
    auto per_second = rate(b, end);
    std::string line = p.node;
    line += " [";
    auto width = options.bar_width;
    if (p.total && *p.total > 0) {
      auto filled = std::min(width, width * p.done / *p.total);
      line.append(filled, '#');
      line.append(width - filled, '.');
    } else {
      // Unknown total: a marker that moves with the items done.
      std::string track(width, '.');
      if (width > 0)
        track[p.done % width] = '#';
      line += track;
    }
    append(line, "] ", std::to_string(p.done));
    if (p.total)
      append(line, "/", std::to_string(*p.total), " ", percent_of(p.done, *p.total), "%");
    append(line, "  ", per_second > 0 ? rate_text(per_second) : std::string("-/s"));
    if (b.finished)
      append(line, "  done in ",
             clock_text(std::chrono::duration<double>(b.ended - b.first_seen).count()));
    else if (p.total && per_second > 0 && *p.total >= p.done)
      append(line, "  ETA ", clock_text(static_cast<double>(*p.total - p.done) / per_second));
    if (p.failed > 0)
      append(line, "  ", std::to_string(p.failed), p.failed == 1 ? " error" : " errors");
    return line;
  }

  std::string plain_line(const Batch& b, Clock::time_point at) const {
    const auto& p = b.last;
    auto per_second = rate(b, b.finished ? b.ended : at);
    std::string line = p.node;
    append(line, b.finished ? ": finished " : ": ", std::to_string(p.done));
    if (p.total)
      append(line, "/", std::to_string(*p.total), " (", percent_of(p.done, *p.total), "%)");
    append(line, " items, ", std::to_string(p.failed), p.failed == 1 ? " error" : " errors");
    if (per_second > 0)
      append(line, ", ", rate_text(per_second));
    if (b.finished)
      append(line, ", in ",
             clock_text(std::chrono::duration<double>(b.ended - b.first_seen).count()));
    else if (p.total && per_second > 0 && *p.total >= p.done)
      append(line, ", ETA ", clock_text(static_cast<double>(*p.total - p.done) / per_second));
    line += "\n";
    return line;
  }

  void write(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), out);
    std::fflush(out);
  }

  /// Redraws the terminal block: up to its first line, then every line, each cleared to its
  /// end. Once every batch in it has finished (or `end`), the block is left behind with a
  /// newline.
  void redraw(Clock::time_point at, bool end = false) {
    std::string text;
    if (drawn_lines > 1)
      append(text, "\x1b[", std::to_string(drawn_lines - 1), "A");
    for (std::size_t i = 0; i < live.size(); ++i) {
      append(text, "\r", tty_line(live[i], at), "\x1b[K");
      if (i + 1 < live.size())
        text += "\n";
    }
    drawn_lines = live.size();
    last_draw = at;
    if (end || std::all_of(live.begin(), live.end(), [](const Batch& b) { return b.finished; })) {
      text += "\n";
      live.clear();
      drawn_lines = 0;
    }
    write(text);
  }

  void update(const BatchProgress& p) {
    std::lock_guard lock{mutex};
    auto at = now();
    auto it = std::find_if(live.begin(), live.end(),
                           [&](const Batch& b) { return !b.finished && b.last.node == p.node; });
    bool added = it == live.end();
    if (added) {
      Batch b;
      b.first_seen = at;
      b.last_line = at;
      b.done_at_first_seen = p.done;
      live.push_back(std::move(b));
      it = std::prev(live.end());
    }
    it->last = p;
    if (p.finished) {
      it->finished = true;
      it->ended = at;
    }
    if (tty) {
      if (added || p.finished || drawn_lines == 0 || at - last_draw >= options.tty_interval)
        redraw(at);
      return;
    }
    if (p.finished) {
      write(plain_line(*it, at));
      live.erase(it);
    } else if (at - it->last_line >= options.plain_interval) {
      it->last_line = at;
      write(plain_line(*it, at));
    }
  }

  void finish() {
    std::lock_guard lock{mutex};
    if (live.empty())
      return;
    auto at = now();
    if (tty) {
      redraw(at, true); // batches that never finished stay as they were last seen
      return;
    }
    for (const auto& b : live)
      write(plain_line(b, at));
    live.clear();
  }

  std::mutex mutex;
  std::FILE* out;
  const ProgressBarOptions options;
  const bool tty;
  std::vector<Batch> live;       // guarded by mutex
  std::size_t drawn_lines = 0;   // guarded by mutex: lines of the block on screen
  Clock::time_point last_draw{}; // guarded by mutex
};

ProgressBar::ProgressBar(std::FILE* out, ProgressBarOptions options)
    : impl_(std::make_shared<Impl>(out, std::move(options))) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(const BatchProgress& progress) { impl_->update(progress); }

std::function<void(const BatchProgress&)> ProgressBar::hook() const {
  return [impl = impl_](const BatchProgress& progress) { impl->update(progress); };
}

void ProgressBar::finish() { impl_->finish(); }

bool ProgressBar::tty() const noexcept { return impl_->tty; }

} // namespace actorflow
