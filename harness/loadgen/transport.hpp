// TCP or TLS client streams: construction, SNI and ALPN, shared by both protocols.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

namespace memgate::loadgen {

using tcp_stream_type = boost::asio::ip::tcp::socket;
using tls_stream_type = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

template <class Stream>
inline constexpr bool is_tls_v = std::is_same_v<Stream, tls_stream_type>;

template <class Stream>
Stream make_stream(boost::asio::io_context& ioc, boost::asio::ssl::context* tls) {
  if constexpr (is_tls_v<Stream>) {
    return Stream(ioc, *tls);
  } else {
    (void)tls;
    return Stream(ioc);
  }
}

template <class Stream>
boost::asio::ip::tcp::socket& socket_of(Stream& s) {
  if constexpr (is_tls_v<Stream>) {
    return s.next_layer();
  } else {
    return s;
  }
}

// A client TLS context offering exactly `alpn` ("h2" or "http/1.1"). Certificates are not
// verified: loadgen targets test servers with self-signed certificates.
boost::asio::ssl::context make_tls_context(std::string_view alpn);

// Sets SNI (for host names, not IP literals). False when OpenSSL refuses.
bool set_server_name(tls_stream_type& s, const std::string& host);

// The protocol ALPN selected, empty when none.
std::string_view alpn_selected(tls_stream_type& s);

}  // namespace memgate::loadgen
