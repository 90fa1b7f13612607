#include "actors/cluster/network.hpp"

#include "core/text.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include <charconv>
#include <fstream>
#include <string_view>

namespace actorflow::actors {

namespace {

Result<void> check_readable(const std::string& path, const char* what) {
  if (path.empty())
    return Error{Errc::bad_input, std::string("TLS: no ") + what +
                                      " file given (TLS needs a "
                                      "certificate, its key and the CA that signs the peers)"};
  if (!std::ifstream(path))
    return Error{Errc::bad_input,
                 std::string("TLS: cannot read the ") + what + " file '" + path + "'"};
  return {};
}

} // namespace

Result<std::pair<std::string, std::uint16_t>> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  auto bad = [&](const char* why) {
    return Error{Errc::bad_input, "cluster node '" + address + "': " + why +
                                      " (expected host:port, e.g. 127.0.0.1:7000)"};
  };
  if (colon == std::string::npos || colon == 0)
    return bad("no host and port");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto digits = std::string_view(address).substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || end != digits.data() + digits.size() || port == 0 || port > 65535)
    return bad("the port is not a number from 1 to 65535");
  return std::pair{std::move(host), static_cast<std::uint16_t>(port)};
}

Result<void> check_off_loopback(const ClusterConfig& config, const std::string& host,
                                const std::string& what) {
  if (config.insecure || !config.tls.empty() || detail::is_loopback_host(host))
    return {};
  return Error{Errc::bad_input, what + " (off loopback) needs TLS (ClusterConfig::tls) or "
                                       "ClusterConfig::insecure"};
}

Result<void> load_network(caf::actor_system_config& cfg, const ClusterConfig& config) {
  cfg.load<caf::io::middleman>();
  if (config.tls.empty())
    return {};
  const auto& tls = config.tls;
  for (auto [path, what] : {std::pair{&tls.certificate, "certificate"}, std::pair{&tls.key, "key"},
                            std::pair{&tls.ca, "CA"}})
    if (auto readable = check_readable(*path, what); !readable)
      return readable;
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_cafile = tls.ca;
  cfg.load<caf::openssl::manager>();
  return {};
}

caf::io::middleman_actor network_of(caf::actor_system& system) {
  if (system.has_openssl_manager())
    return system.openssl_manager().actor_handle();
  return system.middleman().actor_handle();
}
} // namespace actorflow::actors
