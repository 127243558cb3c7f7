#pragma once
// Writes a whole buffer sequence with one write_some per step, counting every
// transport write call and byte, so /mem's write_calls means the same for h1 and h2.
// Each step gets `stall_timeout_ms`: a slow reader may take long, a stalled one may not.
#include "metrics/counters.hpp"
#include "transport/streams.hpp"

#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/system/error_code.hpp>

#include <span>

namespace memgate::transport {

inline void count_write(std::size_t bytes) {
  metrics::add(metrics::counter::write_calls);
  metrics::add(metrics::counter::bytes_written, static_cast<std::int64_t>(bytes));
}

// With `staging` (TLS, record_buffers.hpp), each step first copies up to staging.size()
// bytes of what is left into it and writes that: full records, at the price of one copy.
template <typename Stream, typename ConstBufferSequence, typename Handler>
auto async_write_counted(Stream& stream, const ConstBufferSequence& buffers, std::span<std::uint8_t> staging,
                         std::uint32_t stall_timeout_ms, Handler handler) {
  using boost::system::error_code;
  return boost::asio::async_compose<Handler, void(error_code, std::size_t)>(
      [&stream, staging, stall_timeout_ms, rest = boost::beast::buffers_suffix<ConstBufferSequence>(buffers),
       total = std::size_t{0}, coro = boost::asio::coroutine{}](auto& self, error_code ec = {},
                                                               std::size_t written = 0) mutable {
        BOOST_ASIO_CORO_REENTER(coro) {
          while (boost::asio::buffer_size(rest) > 0) {
            expire_after_ms(stream, stall_timeout_ms);
            if (staging.empty()) {
              BOOST_ASIO_CORO_YIELD stream.async_write_some(rest, std::move(self));
            } else {
              BOOST_ASIO_CORO_YIELD stream.async_write_some(
                  boost::asio::buffer(staging.data(), boost::asio::buffer_copy(boost::asio::buffer(staging), rest)),
                  std::move(self));
            }
            if (ec) {
              self.complete(ec, total);
              return;
            }
            count_write(written);
            total += written;
            rest.consume(written);
          }
          self.complete(error_code{}, total);
        }
      },
      handler, stream);
}

template <typename Stream, typename ConstBufferSequence, typename Handler>
auto async_write_counted(Stream& stream, const ConstBufferSequence& buffers, std::uint32_t stall_timeout_ms,
                         Handler handler) {
  return async_write_counted(stream, buffers, std::span<std::uint8_t>{}, stall_timeout_ms, std::move(handler));
}

}  // namespace memgate::transport
