// `actorflow node`: a Runtime that serves (Runtime::serve) the stock node types.

#include "node.hpp"

#include <actorflow/openai.hpp>
#include <actorflow/runtime.hpp>
#include <actorflow/stock_nodes.hpp>

#include "stop_signals.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace actorflow::tools {

int run_node(const NodeOptions& options) {
  const auto stop_signals = block_stop_signals(); // before any thread starts

  RuntimeConfig config;
  config.worker_threads = options.workers;
  config.cluster.network = true;
  config.cluster.tls = TlsFiles{options.certificate, options.key, options.ca};
  config.cluster.insecure = options.insecure;
  // Model calls go to OPENAI_BASE_URL's server when it is set, else to the local model.
  if (auto openai = add_openai_from_env(config.models); !openai) {
    std::cerr << "actorflow node: " << openai.error().to_string() << "\n";
    return 1;
  }
  if (auto registered = register_stock_nodes(config.nodes); !registered) {
    std::cerr << "actorflow node: " << registered.error().message << "\n";
    return 1;
  }
  if (!config.cluster.tls.empty() &&
      (options.certificate.empty() || options.key.empty() || options.ca.empty())) {
    std::cerr << "actorflow node: TLS needs --cert, --key and --ca together\n";
    return 1;
  }
  Runtime runtime(std::move(config));
  auto port = runtime.serve(ServeOptions{options.bind, options.port, options.capacity});
  if (!port) {
    std::cerr << "actorflow node: " << port.error().message << "\n";
    return 1;
  }
  auto host = options.bind.find(':') == std::string::npos ? options.bind : "[" + options.bind + "]";
  std::cout << nlohmann::json{{"listening", host + ":" + std::to_string(*port)},
                              {"port", *port},
                              {"tls", !options.certificate.empty()},
                              {"workers", runtime.worker_threads()},
                              {"types", stock_node_types()}}
                   .dump()
            << std::endl;
  wait_for_stop_signal(stop_signals);
  runtime.shutdown();
  return 0;
}

} // namespace actorflow::tools
