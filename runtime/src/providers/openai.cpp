#include <actorflow/openai.hpp>

#include "core/text.hpp"
#include "providers/http_client.hpp"
#include "providers/openai_http.hpp"
#include "providers/openai_wire.hpp"

#include <cstdlib>

namespace actorflow {

namespace openai_http {

/// Whether `url` names this machine (local servers rarely want a key): its host, without the
/// scheme, the path and the port.
bool is_loopback(std::string_view url) {
  auto scheme = url.find("://");
  auto host = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  host = host.substr(0, host.find('/'));
  if (host.starts_with('['))
    host = host.substr(0, host.find(']') + 1); // [::1]:8080
  else
    host = host.substr(0, host.find(':'));
  return detail::is_loopback_host(host);
}

/// The outcome of one call: the decoded value, or the typed error for what came back.
template <class T, class Decode>
ModelOutcome<T> settle(http::Response& r, const std::string& where, const std::string& key,
                       Decode&& decode) {
  auto limits = wire::parse_rate_limits(r.headers);
  auto fail = [&](Error e) {
    e.message = scrub(std::move(e.message), key);
    return ModelOutcome<T>(std::move(e), limits);
  };
  if (r.transport != http::Transport::ok)
    return fail(transport_error(r, where));
  if (r.status != 200)
    return fail(http_error(r, where));
  Result<T> value = decode(r);
  if (!value) {
    auto e = std::move(value).error();
    e.message = where + ": " + e.message;
    return fail(std::move(e));
  }
  value->rate_limits = limits;
  return ModelOutcome<T>(std::move(value), limits);
}

} // namespace openai_http

using namespace openai_http;

Result<OpenAiConfig> OpenAiConfig::from_env() {
  OpenAiConfig config;
  auto get = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (auto url = get("OPENAI_BASE_URL"); !url.empty())
    config.base_url = url;
  config.api_key = get("OPENAI_API_KEY");
  if (auto model = get("OPENAI_MODEL"); !model.empty())
    config.model = model;
  if (auto model = get("OPENAI_EMBEDDING_MODEL"); !model.empty())
    config.embedding_model = model;
  if (auto problem = check(config))
    return Error{Errc::bad_input, "OPENAI_BASE_URL: " + problem->message};
  if (config.api_key.empty() && !is_loopback(config.base_url))
    return Error{Errc::bad_input, "OPENAI_API_KEY is not set (needed for " + config.base_url +
                                      "; only servers on loopback may go without a key)"};
  return config;
}

struct OpenAiProvider::Impl {
  explicit Impl(OpenAiConfig c)
      : config(without_trailing_slash(std::move(c))), problem(check(config)),
        chat_url(config.base_url + "/chat/completions"), embed_url(config.base_url + "/embeddings"),
        chat_where("POST " + chat_url), embed_where("POST " + embed_url),
        client(config.max_connections, request_headers(config, true)) {}

  http::Request request(const std::string& url, std::string body) const {
    http::Request r;
    r.url = url;
    r.body = std::move(body);
    r.timeout = config.timeout;
    r.connect_timeout = config.connect_timeout;
    return r;
  }

  template <class T, class Decode>
  ModelOutcome<T> settle(http::Response& r, const std::string& where, Decode&& decode) const {
    return openai_http::settle<T>(r, where, config.api_key, std::forward<Decode>(decode));
  }

  OpenAiConfig config;
  std::optional<Error> problem;
  std::string chat_url;
  std::string embed_url;
  std::string chat_where; ///< "POST <url>", how errors name the call
  std::string embed_where;
  // Last, so it is destroyed first: stopping it cancels the calls in flight, whose completions
  // still read the members above (callbacks hold a pointer to this Impl, not copies).
  http::Client client;
};

OpenAiProvider::OpenAiProvider(OpenAiConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
OpenAiProvider::~OpenAiProvider() = default;

std::string OpenAiProvider::default_model() const { return impl_->config.model; }
std::string OpenAiProvider::default_embedding_model() const {
  return impl_->config.embedding_model;
}
bool OpenAiProvider::supports_json_schema() const noexcept { return impl_->config.json_schema; }
const OpenAiConfig& OpenAiProvider::config() const noexcept { return impl_->config; }
HttpStats OpenAiProvider::stats() const { return impl_->client.stats(); }

void OpenAiProvider::chat(ChatRequest request, ChatDone done) {
  if (impl_->problem)
    return done(ModelOutcome<ChatResponse>(*impl_->problem));
  bool stream = static_cast<bool>(request.on_token);
  auto r = impl_->request(impl_->chat_url,
                          wire::encode_chat_request(request, impl_->config.model, stream));
  const Impl* self = impl_.get();
  if (!stream) {
    impl_->client.post(std::move(r), [self, done = std::move(done)](http::Response response) {
      done(self->settle<ChatResponse>(response, self->chat_where, [](const http::Response& ok) {
        return wire::decode_chat_response(ok.body);
      }));
    });
    return;
  }
  // Streaming: pieces are decoded as they arrive and handed to on_token on the I/O thread.
  auto decoder = std::make_shared<wire::ChatStreamDecoder>();
  r.on_body = [decoder, on_token = std::move(request.on_token)](std::string_view bytes) {
    (void)decoder->feed(bytes, on_token); // an error is kept and reported by finish()
  };
  impl_->client.post(
      std::move(r), [self, done = std::move(done), decoder](http::Response response) {
        done(self->settle<ChatResponse>(response, self->chat_where,
                                        [&](const http::Response&) { return decoder->finish(); }));
      });
}

void OpenAiProvider::embed(EmbedRequest request, EmbedDone done) {
  if (impl_->problem)
    return done(ModelOutcome<Embeddings>(*impl_->problem));
  if (request.texts.empty())
    return done(ModelOutcome<Embeddings>(Embeddings{}));
  auto expected = request.texts.size();
  auto r = impl_->request(impl_->embed_url,
                          wire::encode_embed_request(request, impl_->config.embedding_model));
  const Impl* self = impl_.get();
  impl_->client.post(
      std::move(r), [self, expected, done = std::move(done)](http::Response response) {
        done(self->settle<Embeddings>(response, self->embed_where, [&](const http::Response& ok) {
          return wire::decode_embed_response(ok.body, expected);
        }));
      });
}

Result<bool> add_openai_from_env(ModelRegistry& models, std::string name) {
  if (std::getenv("OPENAI_BASE_URL") == nullptr)
    return false;
  auto config = OpenAiConfig::from_env();
  if (!config)
    return std::move(config).error();
  models.add(std::move(name), make_openai_provider(std::move(*config)));
  return true;
}

ModelProviderPtr make_openai_provider(OpenAiConfig config) {
  return std::make_shared<OpenAiProvider>(std::move(config));
}

} // namespace actorflow
