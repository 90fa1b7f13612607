#include "observe/otlp_exporter.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <random>

namespace actorflow::detail {

namespace {

using Clock = std::chrono::steady_clock;

/// OTLP/HTTP: these answers (and a failed connection) are worth another try; the rest not.
bool retryable(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

/// Retry-After in seconds (the HTTP-date form is not honoured: the backoff applies).
std::optional<std::chrono::milliseconds> retry_after_of(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || end != value.data() + value.size() || seconds < 0)
    return std::nullopt;
  return std::chrono::milliseconds{std::min<long long>(seconds, 300) * 1000};
}

} // namespace

/// One POST at a time, on one reused connection.
class OtlpExporter::Poster {
public:
  struct Answer {
    long status = 0; // 0: no answer (the connection failed, the time limit, an abort)
    std::string body;
    std::optional<std::chrono::milliseconds> retry_after;
    std::string error; // curl's, when there was no answer
  };

  explicit Poster(const OtlpSettings& settings) : curl_(curl_easy_init()) {
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    // No "Expect: 100-continue" round trip before each body (libcurl's default past 1 KB):
    // a collector that does not answer it costs a wait per request.
    headers_ = curl_slist_append(headers_, "Expect:");
    for (const auto& [key, value] : settings.config.headers)
      headers_ = curl_slist_append(headers_, (key + ": " + value).c_str());
    if (!curl_)
      return;
    curl_easy_setopt(curl_, CURLOPT_URL, settings.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(settings.config.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Poster::on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Poster::on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &Poster::on_progress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this);
  }
  ~Poster() {
    if (curl_)
      curl_easy_cleanup(curl_);
    curl_slist_free_all(headers_);
  }
  Poster(const Poster&) = delete;
  Poster& operator=(const Poster&) = delete;

  /// Makes requests give up at `when` (from any thread): libcurl asks at least once a second.
  void give_up_at(Clock::time_point when) {
    give_up_at_.store(when.time_since_epoch().count(), std::memory_order_relaxed);
  }

  Answer post(const std::string& body) {
    Answer answer;
    if (!curl_) {
      answer.error = "libcurl could not make a handle";
      return answer;
    }
    answer_ = &answer;
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    const CURLcode code = curl_easy_perform(curl_);
    answer_ = nullptr;
    if (code != CURLE_OK) {
      answer.status = 0;
      answer.error = curl_easy_strerror(code);
      return answer;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
  }

private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
    auto* poster = static_cast<Poster*>(self);
    if (poster->answer_ && poster->answer_->body.size() < 64 * 1024)
      poster->answer_->body.append(data, size * n);
    return size * n;
  }
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
    auto* poster = static_cast<Poster*>(self);
    std::string_view line(data, size * n);
    constexpr std::string_view name = "retry-after:";
    if (poster->answer_ && line.size() > name.size()) {
      std::string head(line.substr(0, name.size()));
      std::transform(head.begin(), head.end(), head.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (head == name)
        poster->answer_->retry_after = retry_after_of(line.substr(name.size()));
    }
    return size * n;
  }
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto when = static_cast<Poster*>(self)->give_up_at_.load(std::memory_order_relaxed);
    return Clock::now().time_since_epoch().count() >= when ? 1 : 0;
  }

  CURL* curl_;
  curl_slist* headers_ = nullptr;
  Answer* answer_ = nullptr;
  std::atomic<Clock::rep> give_up_at_{std::numeric_limits<Clock::rep>::max()};
};

OtlpExporter::OtlpExporter(OtlpSettings settings)
    : settings_(std::move(settings)), poster_(std::make_unique<Poster>(settings_)) {
  queue_.reserve(settings_.config.max_batch);
  sender_ = std::thread([this] { run(); });
}

OtlpExporter::~OtlpExporter() { shutdown(); }

void OtlpExporter::add(const OtlpTracePtr& trace, const SpanEvent& span) {
  QueuedSpan queued{trace, span}; // copied before the lock: the lock guards a push only
  {
    std::lock_guard lock{mutex_};
    if (stopping_ || queue_.size() >= settings_.config.max_queue) {
      ++stats_.dropped;
      return;
    }
    queue_.push_back(std::move(queued));
    // The sender sleeps until the queue has a span, then waits `delay` for a batch to fill.
    if (queue_.size() != 1 && queue_.size() != settings_.config.max_batch)
      return;
  }
  wake_.notify_one();
}

std::function<void(const SpanEvent&)> OtlpExporter::hook(OtlpTracePtr trace) {
  // Weak: a model call can end on a provider thread after its Runtime, and this exporter,
  // are gone; its span then goes nowhere.
  return [weak = weak_from_this(), trace = std::move(trace)](const SpanEvent& span) {
    if (auto exporter = weak.lock())
      exporter->add(trace, span);
  };
}

void OtlpExporter::shutdown() {
  {
    std::lock_guard lock{mutex_};
    if (!stopping_) {
      stopping_ = true;
      give_up_ = Clock::now() + settings_.config.shutdown_timeout;
      // A request still in flight then is abandoned, so that shutdown is bounded even
      // against a collector that takes the connection and never answers.
      poster_->give_up_at(give_up_);
    }
  }
  wake_.notify_all();
  if (sender_.joinable() && sender_.get_id() != std::this_thread::get_id())
    sender_.join();
}

OtlpStats OtlpExporter::stats() const {
  std::lock_guard lock{mutex_};
  return stats_;
}

void OtlpExporter::count(std::uint64_t OtlpStats::*field, std::uint64_t n, std::string error) {
  std::lock_guard lock{mutex_};
  stats_.*field += n;
  if (!error.empty())
    stats_.last_error = std::move(error);
}

bool OtlpExporter::pause_until(Clock::time_point deadline) {
  std::unique_lock lock{mutex_};
  // Shutdown's deadline would pass before `deadline`: no point in waiting.
  auto too_late = [&] { return stopping_ && deadline > give_up_; };
  wake_.wait_until(lock, deadline, too_late);
  return !too_late();
}

void OtlpExporter::run() {
  const auto& config = settings_.config;
  for (;;) {
    std::vector<QueuedSpan> batch;
    {
      std::unique_lock lock{mutex_};
      // Asleep while there is nothing to send; then a batch goes when it is full, when its
      // first span has waited `delay`, or at shutdown.
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (!stopping_ && queue_.size() < config.max_batch)
        wake_.wait_for(lock, config.delay,
                       [&] { return stopping_ || queue_.size() >= config.max_batch; });
      if (queue_.empty()) {
        if (stopping_)
          break;
        continue;
      }
      if (stopping_ && Clock::now() >= give_up_) {
        stats_.dropped += queue_.size();
        queue_.clear();
        break;
      }
      if (queue_.size() <= config.max_batch) {
        batch.swap(queue_); // the usual case: all of it, without moving a span
      } else {
        const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(config.max_batch);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
        queue_.erase(queue_.begin(), end);
      }
    }
    send(std::move(batch));
  }
  std::lock_guard lock{mutex_};
  stats_.dropped += queue_.size();
  queue_.clear();
}

void OtlpExporter::send(std::vector<QueuedSpan> batch) {
  const auto& config = settings_.config;
  const auto body = otlp_request_json(batch, config);
  const auto n = static_cast<std::uint64_t>(batch.size());
  batch.clear();
  auto backoff = config.first_backoff;
  for (std::uint32_t attempt = 0;; ++attempt) {
    count(&OtlpStats::requests, 1);
    if (attempt > 0)
      count(&OtlpStats::retries, 1);
    auto answer = poster_->post(body);
    if (answer.status >= 200 && answer.status < 300) {
      // A partial success names the spans the collector rejected.
      std::uint64_t rejected = 0;
      std::string why;
      auto json = nlohmann::json::parse(answer.body, nullptr, false);
      if (json.is_object() && json.contains("partialSuccess")) {
        const auto& partial = json["partialSuccess"];
        if (partial.contains("rejectedSpans")) {
          const auto& value = partial["rejectedSpans"];
          if (value.is_number_unsigned())
            rejected = value.get<std::uint64_t>();
          else if (value.is_string())
            rejected = std::strtoull(value.get<std::string>().c_str(), nullptr, 10);
        }
        if (partial.contains("errorMessage") && partial["errorMessage"].is_string())
          why = partial["errorMessage"].get<std::string>();
      }
      rejected = std::min(rejected, n);
      count(&OtlpStats::exported, n - rejected);
      if (rejected > 0)
        count(&OtlpStats::failed, rejected,
              "the collector rejected " + std::to_string(rejected) + " spans: " + why);
      return;
    }
    const bool again = answer.status == 0 || retryable(answer.status);
    std::string error = answer.status == 0
                            ? "no answer from " + settings_.url + ": " + answer.error
                            : settings_.url + " answered " + std::to_string(answer.status) +
                                  (answer.body.empty() ? "" : ": " + answer.body.substr(0, 200));
    if (!again || attempt >= config.max_retries) {
      count(&OtlpStats::failed, n, std::move(error));
      return;
    }
    count(&OtlpStats::failed, 0, std::move(error)); // the latest error, for the log
    auto wait = answer.retry_after.value_or(backoff);
    if (!answer.retry_after) {
      // Full jitter on the upper half, so that many exporters do not retry in step.
      std::uniform_int_distribution<long long> spread(wait.count() / 2, wait.count());
      wait = std::chrono::milliseconds{spread(jitter_)};
      backoff = std::min(backoff * 2, std::chrono::milliseconds{30000});
    }
    if (!pause_until(Clock::now() + wait)) {
      count(&OtlpStats::dropped, n); // shutdown came before the retry could
      return;
    }
  }
}

} // namespace actorflow::detail
