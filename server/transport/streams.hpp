#pragma once
// The two transports every session is instantiated for.
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <type_traits>

namespace memgate::transport {

using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <typename Stream>
constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

inline plain_stream& tcp_layer(plain_stream& stream) { return stream; }
inline plain_stream& tcp_layer(tls_stream& stream) { return boost::beast::get_lowest_layer(stream); }

template <typename Stream>
void expire_after_ms(Stream& stream, std::uint32_t ms) {
  tcp_layer(stream).expires_after(std::chrono::milliseconds(ms));
}

// Closes without the TLS close_notify exchange: used after errors and timeouts,
// where waiting on the peer is what we must not do.
template <typename Stream>
void close_now(Stream& stream) {
  boost::system::error_code ignored;
  tcp_layer(stream).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  tcp_layer(stream).close();
}

}  // namespace memgate::transport
