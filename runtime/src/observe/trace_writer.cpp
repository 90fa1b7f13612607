#include <actorflow/trace.hpp>

#include "core/text.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <queue>
#include <unordered_map>
#include <utility>

namespace actorflow {

namespace {

// -- JSON text ------------------------------------------------------------------------------------

/// Appends `text` as a JSON string (see detail::json_quote: bytes that are not UTF-8 become
/// U+FFFD, so the file always parses).
void append_string(std::string& out, std::string_view text) { out += detail::json_quote(text); }

/// Nanoseconds as microseconds with three decimals (Chrome's unit, without losing precision).
void append_micros(std::string& out, std::chrono::nanoseconds ns) {
  auto count = ns.count();
  if (count < 0) {
    out += '-';
    count = -count;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(count / 1000),
                static_cast<long long>(count % 1000));
  out += buf;
}

/// A span as it appears in the timeline: "summarise[17]", "attempt 2", ...
std::string display_name(const SpanEvent& span) {
  switch (span.kind) {
    case SpanEvent::Kind::item:
      return span.name + "[" + (span.item ? std::to_string(*span.item) : "?") + "]";
    case SpanEvent::Kind::attempt:
      return "attempt " + std::to_string(span.attempt);
    case SpanEvent::Kind::backoff:
      return "backoff";
    case SpanEvent::Kind::grant_wait:
      return "wait " + span.name;
    default:
      return span.name;
  }
}

// -- layout ---------------------------------------------------------------------------------------

struct Placed {
  const SpanEvent* span;
  std::uint64_t run;
  std::uint32_t tid;
};

constexpr std::uint32_t flow_row = 1;

/// Rows for the spans of one run: items packed onto the lowest free lane at their start, every
/// other span on its parent's row.
void place_run(std::vector<Placed>& spans, std::uint32_t& lanes) {
  // Items by start: the lowest-numbered lane whose last item has ended by then.
  std::vector<Placed*> items;
  for (auto& p : spans)
    if (p.span->kind == SpanEvent::Kind::item)
      items.push_back(&p);
  std::stable_sort(items.begin(), items.end(), [](const Placed* a, const Placed* b) {
    return a->span->start < b->span->start;
  });
  using Busy = std::pair<std::chrono::nanoseconds, std::uint32_t>; // (end, lane)
  std::priority_queue<Busy, std::vector<Busy>, std::greater<>> busy;
  std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, std::greater<>> free;
  lanes = 0;
  for (auto* item : items) {
    while (!busy.empty() && busy.top().first <= item->span->start) {
      free.push(busy.top().second);
      busy.pop();
    }
    std::uint32_t lane;
    if (!free.empty()) {
      lane = free.top();
      free.pop();
    } else {
      lane = ++lanes;
    }
    item->tid = flow_row + lane;
    busy.emplace(item->span->start + item->span->duration, lane);
  }
  // Everything else: the row of its nearest item ancestor, else the flow row.
  std::unordered_map<std::uint64_t, Placed*> by_id;
  by_id.reserve(spans.size());
  for (auto& p : spans)
    by_id.emplace(p.span->id, &p);
  std::vector<Placed*> chain;
  for (auto& p : spans) {
    if (p.tid != 0)
      continue;
    // Walk up to a placed ancestor (or the root), then place the whole chain.
    chain.clear();
    Placed* at = &p;
    std::uint32_t tid = flow_row;
    while (at != nullptr && at->tid == 0) {
      chain.push_back(at);
      auto up = by_id.find(at->span->parent);
      at = up == by_id.end() || at->span->parent == 0 ? nullptr : up->second;
      if (chain.size() > spans.size())
        break; // a cycle of ids: cannot come from the runtime, but must not hang
    }
    if (at != nullptr && at->tid != 0)
      tid = at->tid;
    for (auto* c : chain)
      c->tid = tid;
  }
}

} // namespace

void TraceWriter::record(const SpanEvent& span, std::uint64_t run,
                         std::chrono::nanoseconds offset) {
  Entry entry{run, span};
  entry.span.start += offset;
  std::lock_guard lock{mutex_};
  entries_.push_back(std::move(entry));
}

std::function<void(const SpanEvent&)> TraceWriter::hook(std::uint64_t run) {
  return [this, run](const SpanEvent& span) { record(span, run); };
}

std::vector<SpanEvent> TraceWriter::spans() const {
  std::lock_guard lock{mutex_};
  std::vector<SpanEvent> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_)
    out.push_back(e.span);
  return out;
}

std::size_t TraceWriter::size() const {
  std::lock_guard lock{mutex_};
  return entries_.size();
}

void TraceWriter::clear() {
  std::lock_guard lock{mutex_};
  entries_.clear();
}

std::string TraceWriter::to_json() const {
  std::vector<Entry> entries;
  {
    std::lock_guard lock{mutex_};
    entries = entries_;
  }
  // Group by run, place each run's spans on rows.
  std::map<std::uint64_t, std::vector<Placed>> runs;
  for (const auto& e : entries)
    runs[e.run].push_back(Placed{&e.span, e.run, 0});

  std::string out;
  out.reserve(64 + entries.size() * 200);
  out += "{\"traceEvents\":[";
  bool first = true;
  auto begin_event = [&] {
    out += first ? "\n" : ",\n";
    first = false;
  };
  auto metadata = [&](const char* what, std::uint64_t pid, std::optional<std::uint32_t> tid,
                      const std::string& name) {
    begin_event();
    out += "{\"name\":\"";
    out += what;
    out += "\",\"ph\":\"M\",\"pid\":" + std::to_string(pid);
    if (tid)
      out += ",\"tid\":" + std::to_string(*tid);
    out += ",\"args\":{\"name\":";
    append_string(out, name);
    out += "}}";
  };

  for (auto& [run, spans] : runs) {
    std::uint32_t lanes = 0;
    place_run(spans, lanes);
    std::string label = "run " + std::to_string(run);
    for (const auto& p : spans)
      if (p.span->kind == SpanEvent::Kind::flow && p.span->parent == 0) {
        label += ": " + p.span->name;
        break;
      }
    metadata("process_name", run, std::nullopt, label);
    metadata("thread_name", run, flow_row, "flow");
    for (std::uint32_t lane = 1; lane <= lanes; ++lane)
      metadata("thread_name", run, flow_row + lane, "items " + std::to_string(lane));

    // Parents before children on each row: by start, longer first, then by id (a parent is
    // numbered before its children).
    std::sort(spans.begin(), spans.end(), [](const Placed& a, const Placed& b) {
      if (a.span->start != b.span->start)
        return a.span->start < b.span->start;
      if (a.span->duration != b.span->duration)
        return a.span->duration > b.span->duration;
      return a.span->id < b.span->id;
    });
    for (const auto& p : spans) {
      const auto& s = *p.span;
      begin_event();
      out += "{\"name\":";
      append_string(out, display_name(s));
      out += ",\"cat\":\"";
      out += to_string(s.kind);
      out += "\",\"ph\":\"X\",\"ts\":";
      append_micros(out, s.start);
      out += ",\"dur\":";
      append_micros(out, s.duration);
      out += ",\"pid\":" + std::to_string(p.run) + ",\"tid\":" + std::to_string(p.tid);
      out += ",\"args\":{\"id\":" + std::to_string(s.id) +
             ",\"parent\":" + std::to_string(s.parent) +
             ",\"attempt\":" + std::to_string(s.attempt);
      if (s.item)
        out += ",\"item\":" + std::to_string(*s.item);
      if (s.kind == SpanEvent::Kind::grant_wait || s.kind == SpanEvent::Kind::model_call ||
          s.kind == SpanEvent::Kind::item || s.kind == SpanEvent::Kind::attempt) {
        out += ",\"what\":";
        append_string(out, s.name);
      }
      if (s.error) {
        out += ",\"error\":";
        append_string(out, s.error->to_string());
      }
      out += "}}";
    }
  }
  out += "\n],\"displayTimeUnit\":\"ms\"}\n";
  return out;
}

Result<void> TraceWriter::write(const std::string& path) const {
  auto text = to_json();
  // A temporary name of our own: several threads may write the same path at once.
  static std::atomic<std::uint64_t> counter{0};
  auto temp = path + ".tmp" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  auto fail = [&](const char* step) {
    int code = errno;
    std::remove(temp.c_str());
    return Error{Errc::bad_input,
                 "trace: cannot " + std::string(step) + " '" + path + "': " + std::strerror(code)};
  };
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr)
    return fail("create a temporary file for");
  bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  bool closed = std::fclose(f) == 0;
  if (!written || !closed)
    return fail("write");
  if (std::rename(temp.c_str(), path.c_str()) != 0)
    return fail("rename the temporary file to");
  return {};
}

std::optional<std::string> run_trace_path(std::string_view dir, std::string_view run_id) {
  const bool control = std::any_of(run_id.begin(), run_id.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
  if (dir.empty() || run_id.empty() || run_id == "." || run_id == ".." ||
      run_id.find('/') != std::string_view::npos || control)
    return std::nullopt;
  return std::string(dir) + "/" + std::string(run_id) + ".json";
}

} // namespace actorflow
