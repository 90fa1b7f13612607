#include "providers/http_client.hpp"

#include "core/text.hpp"

#include <curl/curl.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace actorflow::http {

namespace {

/// libcurl's global init is not thread-safe before 7.84; do it once for the process.
void init_curl_once() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

Transport classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return Transport::ok;
    case CURLE_OPERATION_TIMEDOUT:
      return Transport::timed_out;
    default:
      // Refused, reset, closed mid-answer, DNS, TLS: no usable answer from the server.
      return Transport::connection_failed;
  }
}

} // namespace

struct Client::Impl {
  /// One request on its way: owned by the I/O thread from submission to completion.
  struct Transfer {
    Impl* owner = nullptr;
    Request request;
    std::function<void(Response)> done;
    Response response;
    CURL* easy = nullptr;
    char error[CURL_ERROR_SIZE] = {};
    curl_slist* own_headers = nullptr; ///< the client's, then the request's; freed with it
    Transfer() = default;
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;
    ~Transfer() { curl_slist_free_all(own_headers); }
  };

  Impl(std::size_t max_connections, const std::vector<std::string>& fixed_headers) {
    init_curl_once();
    for (const auto& h : fixed_headers)
      headers = curl_slist_append(headers, h.c_str());
    // curl would wait for "100 Continue" before sending bodies over 1 KiB: a round trip lost.
    headers = curl_slist_append(headers, "Expect:");
    multi = curl_multi_init();
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    // Event-driven: curl tells us which sockets to watch and when its next timeout is, and we
    // hand it only the sockets that are ready (curl_multi_socket_action). curl_multi_perform
    // and curl_multi_poll would instead walk every transfer on every wake-up: with hundreds in
    // flight that was most of the I/O thread's time.
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    if (max_connections > 0) {
      curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(max_connections));
      // Keep as many idle connections as may be open, so a window of requests reuses them.
      curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(max_connections));
    }
    io = std::thread([this] { run(); });
  }

  ~Impl() {
    stop();
    for (CURL* easy : spare_handles)
      curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    close(wake_fd);
    close(epoll_fd);
  }

  void stop() {
    {
      std::lock_guard guard(mutex);
      stopping = true;
    }
    wake();
    if (io.joinable())
      io.join();
  }

  void post(Request request, std::function<void(Response)> done) {
    auto transfer = std::make_unique<Transfer>();
    transfer->owner = this;
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    bool first = false;
    {
      std::lock_guard guard(mutex);
      if (!stopping) {
        // Only the first of a batch wakes the I/O thread: it takes the whole queue at once.
        first = submitted.empty();
        submitted.push_back(std::move(transfer));
        ++started;
      }
    }
    if (transfer) // not taken: the client is stopping
      return cancel(*transfer);
    if (first)
      wake();
  }

  // -- the I/O thread -------------------------------------------------------------------------

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_fd, &one, sizeof one);
  }

  void run() {
    std::vector<std::unique_ptr<Transfer>> incoming;
    epoll_event events[256];
    for (;;) {
      {
        std::lock_guard guard(mutex);
        if (stopping)
          break;
        incoming.swap(submitted);
      }
      for (auto& t : incoming)
        start(std::move(t)); // curl_multi_add_handle sets a timer of 0: acted on just below
      incoming.clear();
      int running = 0;
      if (timer_due && std::chrono::steady_clock::now() >= *timer_due) {
        timer_due.reset();
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      collect_done();
      int wait_ms = 1000;
      if (timer_due) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(*timer_due -
                                                                 std::chrono::steady_clock::now());
        wait_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1000));
      }
      int n = epoll_wait(epoll_fd, events, std::size(events), wait_ms);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake_fd) {
          std::uint64_t count = 0;
          [[maybe_unused]] auto r = read(wake_fd, &count, sizeof count);
          continue;
        }
        int flags = 0;
        if (events[i].events & EPOLLIN)
          flags |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT)
          flags |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP))
          flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi, fd, flags, &running);
      }
      collect_done();
    }
    // Stopping: whatever is in flight or queued ends as cancelled.
    for (auto& [easy, t] : active) {
      curl_multi_remove_handle(multi, easy);
      cancel(*t);
      release(*t);
    }
    active.clear();
    std::lock_guard guard(mutex);
    for (auto& t : submitted)
      cancel(*t);
    submitted.clear();
  }

  void collect_done() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left))
      if (msg->msg == CURLMSG_DONE)
        finish(msg->easy_handle, msg->data.result);
  }

  /// curl says which events of socket `s` to watch (CURLMOPT_SOCKETFUNCTION).
  static int on_socket(CURL*, curl_socket_t s, int what, void* user, void* known) {
    auto& self = *static_cast<Impl*>(user);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self.epoll_fd, EPOLL_CTL_DEL, s, nullptr);
      curl_multi_assign(self.multi, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if (known) {
      epoll_ctl(self.epoll_fd, EPOLL_CTL_MOD, s, &ev);
    } else {
      epoll_ctl(self.epoll_fd, EPOLL_CTL_ADD, s, &ev);
      curl_multi_assign(self.multi, s, &self); // any non-null marker: "registered"
    }
    return 0;
  }

  /// curl's next timeout (CURLMOPT_TIMERFUNCTION): -1 none, 0 at once, else in `ms`.
  static int on_timer(CURLM*, long ms, void* user) {
    auto& self = *static_cast<Impl*>(user);
    if (ms < 0)
      self.timer_due.reset();
    else
      self.timer_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    return 0;
  }

  void start(std::unique_ptr<Transfer> t) {
    CURL* easy = nullptr;
    if (!spare_handles.empty()) {
      easy = spare_handles.back();
      spare_handles.pop_back();
      curl_easy_reset(easy);
    } else {
      easy = curl_easy_init();
    }
    t->easy = easy;
    curl_easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
    if (t->request.get) {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(t->request.body.size()));
    }
    if (t->request.headers.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers); // shared: curl only reads it
    } else {
      for (const curl_slist* h = headers; h != nullptr; h = h->next)
        t->own_headers = curl_slist_append(t->own_headers, h->data);
      for (const auto& h : t->request.headers)
        t->own_headers = curl_slist_append(t->own_headers, h.c_str());
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->own_headers);
    }
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); // no SIGALRM for timeouts: we are a library
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(t->request.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(t->request.connect_timeout.count()));
    // No Accept-Encoding: answers are small JSON, and compressing them (brotli above all)
    // costs the server far more CPU than the bytes saved (measured: 660 us per answer).
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
    curl_multi_add_handle(multi, easy);
    active.emplace(easy, std::move(t));
    if (active.size() > max_in_flight.load(std::memory_order_relaxed))
      max_in_flight.store(active.size(), std::memory_order_relaxed);
  }

  void finish(CURL* easy, CURLcode code) {
    auto it = active.find(easy);
    if (it == active.end())
      return;
    auto t = std::move(it->second);
    active.erase(it);
    curl_multi_remove_handle(multi, easy);
    auto& r = t->response;
    r.transport = classify(code);
    if (r.transport != Transport::ok)
      r.transport_error = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
    release(*t);
    ++completed;
    t->done(std::move(r));
  }

  void release(Transfer& t) {
    spare_handles.push_back(t.easy);
    t.easy = nullptr;
  }

  static void cancel(Transfer& t) {
    Response r;
    r.transport = Transport::cancelled;
    r.transport_error = "the HTTP client is shutting down";
    t.done(std::move(r));
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    std::string_view bytes(data, size * count);
    if (t.request.on_body && t.response.status / 100 == 2)
      t.request.on_body(bytes);
    else
      t.response.body.append(bytes);
    return bytes.size();
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    t.owner->note_callback_thread();
    std::string_view line(data, size * count);
    auto& r = t.response;
    if (line.starts_with("HTTP/")) {
      // A status line starts a new answer (after a "100 Continue" or a redirect): only the
      // last one's headers count.
      r.headers.clear();
      auto space = line.find(' ');
      r.status = space == std::string_view::npos ? 0 : std::atol(line.data() + space + 1);
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      r.headers.emplace_back(detail::to_lower(detail::trim(line.substr(0, colon))),
                             std::string(detail::trim(line.substr(colon + 1))));
    }
    return line.size();
  }

  /// Records which thread runs transfer callbacks: the proof that one I/O thread does it all.
  void note_callback_thread() {
    auto id = std::this_thread::get_id();
    if (last_callback_thread.load(std::memory_order_relaxed) == id)
      return;
    last_callback_thread.store(id, std::memory_order_relaxed);
    std::lock_guard guard(mutex);
    callback_threads.insert(id);
  }

  CURLM* multi = nullptr;
  curl_slist* headers = nullptr; ///< the same for every request
  int epoll_fd = -1;
  int wake_fd = -1; ///< an eventfd: post() and the destructor wake the I/O thread with it
  std::thread io;
  mutable std::mutex mutex;
  bool stopping = false;                            // guarded by mutex
  std::vector<std::unique_ptr<Transfer>> submitted; // guarded by mutex
  std::set<std::thread::id> callback_threads;       // guarded by mutex
  std::uint64_t started = 0;                        // guarded by mutex
  std::atomic<std::thread::id> last_callback_thread{};
  // Owned by the I/O thread:
  std::map<CURL*, std::unique_ptr<Transfer>> active;
  std::vector<CURL*> spare_handles;
  std::optional<std::chrono::steady_clock::time_point> timer_due; ///< curl's next timeout
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> max_in_flight{0};
};

Client::Client(std::size_t max_connections, const std::vector<std::string>& headers)
    : impl_(std::make_unique<Impl>(max_connections, headers)) {}
Client::~Client() = default;

void Client::stop() { impl_->stop(); }

void Client::post(Request request, std::function<void(Response)> done) {
  impl_->post(std::move(request), std::move(done));
}

HttpStats Client::stats() const {
  HttpStats s;
  std::lock_guard guard(impl_->mutex);
  s.started = impl_->started;
  s.completed = impl_->completed.load();
  s.max_in_flight = impl_->max_in_flight.load();
  s.io_threads = impl_->callback_threads.size();
  return s;
}

} // namespace actorflow::http
