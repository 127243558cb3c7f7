#pragma once
// What a connection's TLS records need, kept while it is busy and let go while it is idle.
// Asio's engine sets SSL_MODE_RELEASE_BUFFERS, so OpenSSL frees its read or write buffer
// (about 17 KiB each) after every record and allocates it for the next: dozens of
// allocations per response. Here they stay until the connection has nothing to send, and
// go then (SSL_free_buffers), so an idle connection holds what it held before.
// `staging` is where a write gathers up to one record's plaintext: OpenSSL writes one
// record per SSL_write of one buffer, so an iovec of its own (a 9-byte frame header)
// would be a record of its own. Over plain TCP there is nothing to keep.
#include "transport/streams.hpp"

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>

namespace memgate::transport {

// TLS 1.3 and 1.2 carry at most 2^14 plaintext bytes per record (RFC 8446 5.1).
constexpr std::size_t tls_record_plaintext_bytes = 16 * 1024;

template <typename Stream>
class record_buffers {
 public:
  explicit record_buffers(Stream&) {}
  std::span<std::uint8_t> staging() { return {}; }  // writes go out as the iovecs are
  void release_while_idle() {}
};

template <>
class record_buffers<tls_stream> {
 public:
  explicit record_buffers(tls_stream& stream) : ssl_(stream.native_handle()) {
    SSL_clear_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  }
  std::span<std::uint8_t> staging() {
    if (!staging_) staging_ = std::make_unique_for_overwrite<record>();
    return *staging_;
  }
  // OpenSSL keeps a buffer that still holds part of a record (SSL_free_buffers refuses).
  void release_while_idle() {
    SSL_free_buffers(ssl_);
    staging_.reset();
  }

 private:
  using record = std::array<std::uint8_t, tls_record_plaintext_bytes>;
  SSL* ssl_;
  std::unique_ptr<record> staging_;
};

}  // namespace memgate::transport
