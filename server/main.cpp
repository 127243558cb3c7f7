// refserver-<allocator>: the reference server. See docs/ARCHITECTURE.md.
#include "alloc/allocator.hpp"
#include "config/config.hpp"
#include "server.hpp"
#include "transport/open_files.hpp"

#include <boost/system/system_error.hpp>

#include <iostream>
#include <stdexcept>

int main(int argc, char** argv) {
  const auto parsed = memgate::parse_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << "\n";
    return parsed.exit_code;
  }
  const auto& config = *parsed.config;
  const auto open_file_limit = memgate::transport::raise_open_file_limit();
  if (auto warning = memgate::transport::open_file_limit_warning(config.limits.max_connections, config.threads,
                                                                 open_file_limit)) {
    std::cerr << *warning << "\n";
  }
  try {
    memgate::server server(config);
    const auto endpoint = server.local_endpoint();
    std::cout << "listening on " << endpoint.address().to_string() << ":" << endpoint.port() << "\n"
              << "allocator " << memgate::alloc::name() << " " << memgate::alloc::version() << ", threads "
              << config.threads << ", copy " << memgate::to_string(config.copy) << ", request-body "
              << memgate::to_string(config.request_body) << (config.tls() ? ", TLS (ALPN h2, http/1.1)" : ", h1 + h2c")
              << std::endl;
    return server.run();
  } catch (const boost::system::system_error& e) {
    std::cerr << "refserver: cannot listen on " << config.host << ":" << config.port << ": " << e.code().message()
              << "\n";
  } catch (const std::exception& e) {
    std::cerr << "refserver: " << e.what() << "\n";
  }
  return 1;
}
