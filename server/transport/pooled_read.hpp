#pragma once
// Why: a connection waiting for its next request needs no read buffer of its own. As nginx
// and h2o do, a connection with nothing unparsed waits for readability holding no buffer,
// then reads into a buffer of its worker thread and hands the bytes on before the buffer
// goes back; what its session still needs (a partial request) it keeps itself. A connection
// never changes thread (worker_pool.hpp), so the buffers need no lock. Over plain TCP a
// buffer is lent only while one read and its handler run, so a thread uses one at a time.
// A TLS read holds its buffer while Asio's engine completes it, and a read started meanwhile
// on the same thread takes another, kept for the next such overlap.
#include "transport/streams.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace memgate::transport {

// What one read takes at most: a 64 KiB request body step, or many frames.
constexpr std::size_t thread_read_buffer_bytes = 64 * 1024;

// One of the worker thread's read buffers, lent for one read and its handler.
class thread_read_buffer {
 public:
  thread_read_buffer() : block_(take()) {}
  thread_read_buffer(thread_read_buffer&& other) noexcept = default;
  thread_read_buffer& operator=(thread_read_buffer&&) = delete;
  ~thread_read_buffer() {
    if (block_) give_back(std::move(block_));
  }
  std::span<std::uint8_t> bytes() { return *block_; }
  // Frees the spare buffers this thread keeps (the forced trim's step for this cache).
  static void release_spares() noexcept { std::vector<std::unique_ptr<block>>().swap(spare()); }

 private:
  using block = std::array<std::uint8_t, thread_read_buffer_bytes>;
  static constexpr std::size_t kept_blocks = 4;

  static std::vector<std::unique_ptr<block>>& spare() {
    thread_local std::vector<std::unique_ptr<block>> blocks;
    return blocks;
  }
  static std::unique_ptr<block> take() {
    auto& blocks = spare();
    if (blocks.empty()) {
      blocks.reserve(kept_blocks);
      return std::make_unique_for_overwrite<block>();
    }
    auto taken = std::move(blocks.back());
    blocks.pop_back();
    return taken;
  }
  static void give_back(std::unique_ptr<block> returned) {
    if (spare().size() < kept_blocks) spare().push_back(std::move(returned));
  }

  std::unique_ptr<block> block_;
};

// Input Asio's TLS engine already took from the socket: a wait for readability would miss
// it. The engine feeds OpenSSL through a BIO pair as large as its own socket reads (17 KiB),
// and OpenSSL asks for more only once it took all the BIO held, so whatever was read sits
// in the BIO or in OpenSSL's buffers (decrypted, or part of a record).
inline bool engine_holds_input(tls_stream& stream) {
  SSL* ssl = stream.native_handle();
  return SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
}

namespace detail {

using boost::system::error_code;

inline void make_non_blocking(boost::asio::ip::tcp::socket& socket, error_code& ec) {
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
}

// Asio's wait is edge-triggered and never tries first: input that arrived while nothing
// waited (during a response's write, or past the last read's 64 KiB) would wait for more.
// So a read is tried first; an error or the peer's end is reported by the read as well.
inline bool socket_has_input(boost::asio::ip::tcp::socket& socket) {
  error_code ec;
  make_non_blocking(socket, ec);
  std::uint8_t byte = 0;
  if (!ec) socket.receive(boost::asio::buffer(&byte, 1), boost::asio::socket_base::message_peek, ec);
  return ec != boost::asio::error::would_block;
}

// Handler: void(error_code, std::span<const std::uint8_t>), the bytes valid until it returns.
template <typename Stream, typename Handler>
void wait_then_read(Stream& stream, Handler handler);

// The caller's timer bounds waits and reads alike: a write's stall timeout, left on the
// stream, would otherwise apply to this read.
template <typename Handler>
void read_lent(tls_stream& stream, Handler handler) {
  tcp_layer(stream).expires_never();
  thread_read_buffer lent;
  const auto space = lent.bytes();
  stream.async_read_some(boost::asio::buffer(space.data(), space.size()),
                         [lent = std::move(lent), handler = std::move(handler)](error_code ec, std::size_t bytes) mutable {
                           handler(ec, std::span<const std::uint8_t>(lent.bytes().data(), bytes));
                         });
}

// One non-blocking read, its handler run at once with the bytes. From the initiating call the
// read itself is posted, as a completion would be: a buffer filled there would stay lent
// until the queue reached its handler, one more 64 KiB block for every connection that had
// input at the same time.
template <typename Handler>
void read_lent(plain_stream& stream, Handler handler, bool initiating) {
  if (initiating) {
    return boost::asio::post(stream.get_executor(), [&stream, handler = std::move(handler)]() mutable {
      read_lent(stream, std::move(handler), false);
    });
  }
  auto& socket = stream.socket();
  error_code ec;
  make_non_blocking(socket, ec);
  thread_read_buffer lent;
  const auto space = lent.bytes();
  const std::size_t bytes = ec ? 0 : socket.read_some(boost::asio::buffer(space.data(), space.size()), ec);
  if (ec == boost::asio::error::would_block) return wait_then_read(stream, std::move(handler));
  handler(ec, std::span<const std::uint8_t>(space.data(), bytes));
}

template <typename Stream, typename Handler>
void wait_then_read(Stream& stream, Handler handler) {
  tcp_layer(stream).socket().async_wait(boost::asio::socket_base::wait_read,
                                        [&stream, handler = std::move(handler)](error_code ec) mutable {
                                          if (ec) return handler(ec, std::span<const std::uint8_t>{});
                                          if constexpr (is_tls<Stream>) {
                                            read_lent(stream, std::move(handler));
                                          } else {
                                            read_lent(stream, std::move(handler), false);
                                          }
                                        });
}

}  // namespace detail

// Reads the connection's next bytes into a thread buffer; with none there yet, it waits for
// them holding no buffer.
template <typename Stream, typename Handler>
void async_read_pooled(Stream& stream, Handler handler) {
  if constexpr (is_tls<Stream>) {
    if (engine_holds_input(stream) || detail::socket_has_input(tcp_layer(stream).socket())) {
      return detail::read_lent(stream, std::move(handler));
    }
    detail::wait_then_read(stream, std::move(handler));
  } else {
    detail::read_lent(stream, std::move(handler), true);
  }
}

}  // namespace memgate::transport
