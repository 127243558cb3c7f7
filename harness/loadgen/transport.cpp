#include "transport.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ip/address.hpp>

namespace memgate::loadgen {

boost::asio::ssl::context make_tls_context(std::string_view alpn) {
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  ctx.set_verify_mode(boost::asio::ssl::verify_none);
  std::string wire;
  wire.push_back(static_cast<char>(alpn.size()));
  wire.append(alpn);
  SSL_CTX_set_alpn_protos(ctx.native_handle(), reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
  return ctx;
}

bool set_server_name(tls_stream_type& s, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) return true;  // IP literal: no SNI
  return SSL_set_tlsext_host_name(s.native_handle(), host.c_str()) == 1;
}

std::string_view alpn_selected(tls_stream_type& s) {
  const unsigned char* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(s.native_handle(), &data, &len);
  return {reinterpret_cast<const char*>(data), len};
}

}  // namespace memgate::loadgen
