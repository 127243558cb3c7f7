#include "transport/tls.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace memgate::transport {
namespace {

constexpr unsigned char offered_protocols[] = "\x02h2\x08http/1.1";

int select_protocol(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* client,
                    unsigned int client_length, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, offered_protocols, sizeof offered_protocols - 1, client,
                            client_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: carry on as http/1.1
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

boost::asio::ssl::context make_tls_context(const std::string& cert_path, const std::string& key_path) {
  namespace ssl = boost::asio::ssl;
  ssl::context context(ssl::context::tls_server);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  context.use_certificate_chain_file(cert_path, ec);
  if (ec) throw std::runtime_error("cannot use TLS certificate '" + cert_path + "': " + ec.message());
  context.use_private_key_file(key_path, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("cannot use TLS key '" + key_path + "': " + ec.message());
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    throw std::runtime_error("TLS key '" + key_path + "' does not match certificate '" + cert_path + "'");
  }
  SSL_CTX_set_alpn_select_cb(context.native_handle(), select_protocol, nullptr);
  return context;
}

}  // namespace memgate::transport
