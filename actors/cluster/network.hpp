#pragma once
// The network layer of a Runtime in a cluster: CAF's middleman (TLS through its OpenSSL module
// when certificates are configured), and the rules for addresses.

#include <actorflow/cluster.hpp>
#include <actorflow/result.hpp>

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace actorflow::actors {

/// Loads CAF's middleman (and the OpenSSL module when `config.tls` is set) into `cfg`; TLS
/// files are checked to exist first. Call before the actor system is made.
Result<void> load_network(caf::actor_system_config& cfg, const ClusterConfig& config);

/// The middleman actor that dials and publishes: OpenSSL's when TLS is configured.
caf::io::middleman_actor network_of(caf::actor_system& system);

/// "host:port" (the host may be a bracketed IPv6 address) as host and port; a malformed one
/// is an error naming it.
Result<std::pair<std::string, std::uint16_t>> split_address(const std::string& address);

/// Whether `config` allows a connection to or from `host`: on loopback always, elsewhere with
/// TLS or `insecure`. `what` names the connection in the error ("cluster node h:p").
Result<void> check_off_loopback(const ClusterConfig& config, const std::string& host,
                                const std::string& what);

} // namespace actorflow::actors
