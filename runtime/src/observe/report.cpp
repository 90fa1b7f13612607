#include <actorflow/prices.hpp>
#include <actorflow/report.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <utility>

namespace actorflow {

using std::chrono::nanoseconds;

namespace {

double to_ms(nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

/// "850 ns", "12.5 us", "3.20 ms", "1.25 s", "2 m 05 s".
std::string human(nanoseconds d) {
  char buf[48];
  auto ns = static_cast<double>(d.count());
  if (d < std::chrono::microseconds(1))
    std::snprintf(buf, sizeof buf, "%lld ns", static_cast<long long>(d.count()));
  else if (d < std::chrono::milliseconds(1))
    std::snprintf(buf, sizeof buf, "%.1f us", ns / 1e3);
  else if (d < std::chrono::seconds(1))
    std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
  else if (d < std::chrono::minutes(2))
    std::snprintf(buf, sizeof buf, "%.2f s", ns / 1e9);
  else {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
    std::snprintf(buf, sizeof buf, "%lld m %02lld s", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

/// Pads `text` to `width` (right-aligned when `right`).
std::string pad(const std::string& text, std::size_t width, bool right) {
  if (text.size() >= width)
    return text;
  std::string fill(width - text.size(), ' ');
  return right ? fill + text : text + fill;
}

Value latency_value(const LatencySummary& l) {
  return Value::object({{"count", static_cast<std::int64_t>(l.count)},
                        {"total_ms", to_ms(l.total)},
                        {"p50_ms", to_ms(l.p50)},
                        {"p90_ms", to_ms(l.p90)},
                        {"p99_ms", to_ms(l.p99)},
                        {"max_ms", to_ms(l.max)}});
}

} // namespace

LatencySummary LatencySummary::of(std::vector<nanoseconds> samples) {
  LatencySummary out;
  out.count = samples.size();
  if (samples.empty())
    return out;
  std::sort(samples.begin(), samples.end());
  for (auto s : samples)
    out.total += s;
  auto rank = [&](double q) {
    auto n = static_cast<double>(samples.size());
    auto i = static_cast<std::size_t>(std::ceil(q * n));
    return samples[std::clamp<std::size_t>(i, 1, samples.size()) - 1];
  };
  out.p50 = rank(0.50);
  out.p90 = rank(0.90);
  out.p99 = rank(0.99);
  out.max = samples.back();
  return out;
}

// -- RunReport ------------------------------------------------------------------------------------

std::string RunReport::to_text() const {
  std::string out;
  auto line = [&](const std::string& label, const std::string& text) {
    out += "  " + pad(label, 13, false) + text + "\n";
  };
  out += "run '" + flow + "': " + (error ? "failed (" + error->to_string() + ")" : "ok") +
         ", wall " + human(wall) + "\n";
  line("nodes",
       std::to_string(node_runs) + " run, " + std::to_string(failed_node_runs) + " failed");
  line("items", std::to_string(items) + ", " + std::to_string(failed_items) + " failed");
  line("attempts",
       std::to_string(retries) + " retries, " + std::to_string(failed_attempts) + " failed");
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f %s/s", throughput, items > 0 ? "items" : "nodes");
  line("throughput", rate);
  line("model calls", std::to_string(usage.calls) + " (" + std::to_string(usage.failed_calls) +
                          " failed, " + std::to_string(usage.rate_limited) + " rate-limited, " +
                          std::to_string(usage.refused) + " refused, " +
                          std::to_string(usage.fallbacks) + " fell back)");
  line("tokens", std::to_string(usage.total_tokens()) + " (prompt " +
                     std::to_string(usage.prompt_tokens) + ", completion " +
                     std::to_string(usage.completion_tokens) + ")");
  if (!usage.by_model.empty()) {
    std::string costs = format_money(usage.cost);
    std::string sep = " (";
    for (const auto& [key, of] : usage.by_model) {
      costs += sep + key + " " + (of.priced ? format_money(of.cost) : std::string("unpriced"));
      if (of.batched_calls > 0) // which calls a Batch API answered, and which went online
        costs += of.batched_calls == of.calls
                     ? std::string(" [batched]")
                     : " [" + std::to_string(of.batched_calls) + " batched, " +
                           std::to_string(of.calls - of.batched_calls) + " online]";
      sep = ", ";
    }
    line("cost", costs + ")");
  }
  line("grant waits", std::to_string(grant_waits.count) + " calls, " +
                          std::to_string(waited_calls) + " waited 1 ms or more, total " +
                          human(grant_waits.total) + ", p50 " + human(grant_waits.p50) + ", p99 " +
                          human(grant_waits.p99) + ", max " + human(grant_waits.max));
  if (nodes.empty())
    return out;

  // The per-node table: columns as wide as their widest cell.
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"node", "runs", "items", "failed", "p50", "p90", "p99", "max"});
  for (const auto& n : nodes)
    rows.push_back({n.node, std::to_string(n.executions), n.batch ? std::to_string(n.items) : "-",
                    std::to_string(n.failed), human(n.latency.p50), human(n.latency.p90),
                    human(n.latency.p99), human(n.latency.max)});
  std::vector<std::size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], row[c].size());
  out += "\n";
  for (const auto& row : rows) {
    std::string text = "  ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      text += pad(row[c], widths[c], c != 0); // names left, numbers right
      if (c + 1 < row.size())
        text += "  ";
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out += text + "\n";
  }
  return out;
}

Value RunReport::to_value() const {
  Array node_values;
  for (const auto& n : nodes)
    node_values.push_back(Value::object({{"node", n.node},
                                         {"batch", n.batch},
                                         {"runs", static_cast<std::int64_t>(n.executions)},
                                         {"items", static_cast<std::int64_t>(n.items)},
                                         {"failed", static_cast<std::int64_t>(n.failed)},
                                         {"latency", latency_value(n.latency)}}));
  auto waits = latency_value(grant_waits);
  waits.as_map()["waited"] = static_cast<std::int64_t>(waited_calls);
  auto count = [](std::uint64_t n) { return static_cast<std::int64_t>(n); };
  Map by_model;
  for (const auto& [key, of] : usage.by_model)
    by_model.emplace(key, Value::object({{"calls", count(of.calls)},
                                         {"failed", count(of.failed_calls)},
                                         {"prompt_tokens", count(of.prompt_tokens)},
                                         {"cached_tokens", count(of.cached_tokens)},
                                         {"completion_tokens", count(of.completion_tokens)},
                                         {"cost", of.cost},
                                         {"priced", of.priced},
                                         {"batched_calls", count(of.batched_calls)}}));
  return Value::object(
      {{"flow", flow},
       {"ok", !error.has_value()},
       {"error", error ? Value(error->to_string()) : Value()},
       {"wall_ms", to_ms(wall)},
       {"nodes_run", count(node_runs)},
       {"failed_nodes", count(failed_node_runs)},
       {"items", count(items)},
       {"failed_items", count(failed_items)},
       {"retries", count(retries)},
       {"failed_attempts", count(failed_attempts)},
       {"throughput_per_s", throughput},
       {"throughput_unit", items > 0 ? "items" : "nodes"},
       {"model_calls", Value::object({{"calls", count(usage.calls)},
                                      {"failed", count(usage.failed_calls)},
                                      {"rate_limited", count(usage.rate_limited)},
                                      {"refused", count(usage.refused)},
                                      {"fallbacks", count(usage.fallbacks)},
                                      {"prompt_tokens", count(usage.prompt_tokens)},
                                      {"completion_tokens", count(usage.completion_tokens)},
                                      {"total_tokens", count(usage.total_tokens())},
                                      {"cost", usage.cost},
                                      {"by_model", std::move(by_model)}})},
       {"grant_waits", std::move(waits)},
       {"nodes", std::move(node_values)}});
}

// -- ReportCollector ------------------------------------------------------------------------------

struct ReportCollector::Data {
  // What a report needs of a span: node, item and root-flow spans only.
  struct Span {
    SpanEvent::Kind kind;
    std::string name;
    nanoseconds start, duration;
    bool failed;
  };
  struct Call {
    nanoseconds waited;
    Usage usage;
    std::optional<Errc> error;
    std::string key; // "provider/model"
    double cost;
    bool batched; // answered through a batch API
  };

  std::mutex mutex;
  std::vector<Span> spans;           // guarded by mutex
  std::optional<Span> root;          // guarded by mutex
  std::uint64_t retries = 0;         // guarded by mutex
  std::uint64_t failed_attempts = 0; // guarded by mutex
  std::uint64_t fallbacks = 0;       // guarded by mutex
  std::vector<Call> calls;           // guarded by mutex
};

ReportCollector::ReportCollector() : data_(std::make_shared<Data>()) {}

RunOptions ReportCollector::options(RunOptions base) const {
  auto chain = [](auto previous, auto mine) {
    return [previous = std::move(previous), mine = std::move(mine)](const auto& event) mutable {
      if (previous)
        previous(event);
      mine(event);
    };
  };
  ReportCollector self = *this; // shares data_
  base.on_span =
      chain(std::move(base.on_span), [self](const SpanEvent& s) mutable { self.add(s); });
  base.on_attempt =
      chain(std::move(base.on_attempt), [self](const AttemptEvent& e) mutable { self.add(e); });
  base.on_model_call = chain(std::move(base.on_model_call),
                             [self](const ModelCallEvent& e) mutable { self.add(e); });
  return base;
}

void ReportCollector::add(const SpanEvent& span) {
  bool root = span.kind == SpanEvent::Kind::flow && span.parent == 0;
  if (!root && span.kind != SpanEvent::Kind::node && span.kind != SpanEvent::Kind::item)
    return;
  Data::Span s{span.kind, span.name, span.start, span.duration, span.error.has_value()};
  std::lock_guard lock{data_->mutex};
  if (root)
    data_->root = std::move(s);
  else
    data_->spans.push_back(std::move(s));
}

void ReportCollector::add(const AttemptEvent& event) {
  std::lock_guard lock{data_->mutex};
  if (event.kind == AttemptEvent::Kind::retry_scheduled)
    ++data_->retries;
  else if (event.kind == AttemptEvent::Kind::failed)
    ++data_->failed_attempts; // a timed_out attempt also reports `failed`: counted once
  else if (event.kind == AttemptEvent::Kind::model_fallback)
    ++data_->fallbacks;
}

void ReportCollector::add(const ModelCallEvent& event) {
  std::lock_guard lock{data_->mutex};
  data_->calls.push_back(
      Data::Call{event.waited, event.usage,
                 event.error ? std::optional<Errc>(event.error->code) : std::nullopt,
                 event.provider + "/" + event.model, event.cost, event.batched});
}

RunReport ReportCollector::report(const Result<RunResult>& result) const {
  std::vector<Data::Span> spans;
  std::optional<Data::Span> root;
  std::vector<Data::Call> calls;
  RunReport r;
  std::uint64_t fallbacks = 0;
  {
    std::lock_guard lock{data_->mutex};
    spans = data_->spans;
    root = data_->root;
    calls = data_->calls;
    r.retries = data_->retries;
    r.failed_attempts = data_->failed_attempts;
    fallbacks = data_->fallbacks;
  }
  if (root) {
    r.flow = root->name;
    r.wall = root->duration;
  }
  if (!result.ok())
    r.error = result.error();

  // Nodes by path, in the order they first started.
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Data::Span& a, const Data::Span& b) { return a.start < b.start; });
  std::map<std::string, std::size_t> index;
  std::vector<std::vector<nanoseconds>> node_samples, item_samples;
  std::vector<std::size_t> failed_runs, failed_items; // per node
  for (const auto& s : spans) {
    auto [it, added] = index.emplace(s.name, r.nodes.size());
    if (added) {
      r.nodes.push_back(NodeReport{});
      r.nodes.back().node = s.name;
      node_samples.emplace_back();
      item_samples.emplace_back();
      failed_runs.push_back(0);
      failed_items.push_back(0);
    }
    auto& n = r.nodes[it->second];
    if (s.kind == SpanEvent::Kind::item) {
      n.batch = true;
      ++n.items;
      ++r.items;
      item_samples[it->second].push_back(s.duration);
      if (s.failed) {
        ++failed_items[it->second];
        ++r.failed_items;
      }
    } else {
      ++n.executions;
      ++r.node_runs;
      node_samples[it->second].push_back(s.duration);
      if (s.failed) {
        ++failed_runs[it->second];
        ++r.failed_node_runs;
      }
    }
  }
  for (std::size_t i = 0; i < r.nodes.size(); ++i) {
    auto& n = r.nodes[i];
    n.failed = n.batch ? failed_items[i] : failed_runs[i];
    n.latency =
        LatencySummary::of(n.batch ? std::move(item_samples[i]) : std::move(node_samples[i]));
  }

  // Model calls and their waits.
  std::vector<nanoseconds> waits;
  waits.reserve(calls.size());
  RunUsage summed;
  for (const auto& c : calls) {
    waits.push_back(c.waited);
    if (c.waited >= RunReport::noticeable_wait)
      ++r.waited_calls;
    ++summed.calls;
    summed.prompt_tokens += c.usage.prompt_tokens;
    summed.completion_tokens += c.usage.completion_tokens;
    summed.cost += c.cost;
    ModelUsage& of = summed.by_model[c.key];
    ++of.calls;
    of.failed_calls += c.error ? 1 : 0;
    of.prompt_tokens += c.usage.prompt_tokens;
    of.cached_tokens += c.usage.cached_tokens;
    of.completion_tokens += c.usage.completion_tokens;
    of.cost += c.cost;
    of.priced = of.priced || c.cost > 0; // (a free call of a priced key reads "unpriced")
    of.batched_calls += c.batched ? 1 : 0;
    if (c.error) {
      ++summed.failed_calls;
      if (*c.error == Errc::rate_limited)
        ++summed.rate_limited;
    }
  }
  r.grant_waits = LatencySummary::of(std::move(waits));
  summed.fallbacks = fallbacks;
  if (result.ok()) {
    r.usage = result->usage;
    r.retries = result->retries;
  } else {
    r.usage = summed;
  }

  auto seconds = static_cast<double>(r.wall.count()) / 1e9;
  auto done = r.items > 0 ? r.items : r.node_runs;
  r.throughput = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  return r;
}

} // namespace actorflow
