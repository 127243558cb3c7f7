#pragma once
#include <boost/asio/ssl/context.hpp>

#include <string>

namespace memgate::transport {

// A server context offering ALPN h2 and http/1.1. Throws std::runtime_error
// naming the file when the certificate or key cannot be used.
boost::asio::ssl::context make_tls_context(const std::string& cert_path, const std::string& key_path);

}  // namespace memgate::transport
