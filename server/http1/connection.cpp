#include "http1/connection.hpp"

#include "transport/counted_write.hpp"
#include "transport/pooled_read.hpp"
#include "transport/streams.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>

namespace memgate::http1 {
namespace net = boost::asio;

namespace {

constexpr std::uint32_t linger_ms = 1000;

}  // namespace

template <typename Stream>
connection<Stream>::connection(Stream&& stream, boost::beast::flat_buffer&& already_read,
                               transport::connection_slot&& slot, app::services& app,
                               const strategy::strategies& strategies)
    : stream_(std::move(stream)),
      record_buffers_(stream_),
      slot_(std::move(slot)),
      app_(app),
      session_(app, strategies, stream_.get_executor(), *this, std::move(already_read)),
      read_deadline_(stream_.get_executor()) {}

template <typename Stream>
void connection<Stream>::run() {
  session_.start();
  pump();
}

template <typename Stream>
void connection<Stream>::pump() {
  if (closed_ || writing_) return;
  const auto buffers = session_.collect_output();
  if (!buffers.empty()) {
    writing_ = true;  // the buffers live in the session until on_output_written
    transport::async_write_counted(stream_, buffers, record_buffers_.staging(), session_.send_timeout_ms(),
                                   boost::beast::bind_front_handler(&connection::on_write, this->shared_from_this()));
    return;
  }
  switch (session_.end()) {
    case session_end::graceful:
      return do_close();
    case session_end::abort:
      return close_now();
    case session_end::open:
      break;
  }
  if (session_.wants_input() && !reading_) do_read();
}

// A part of a request read on into the session's buffer; otherwise the connection waits
// with no buffer. Between requests, over TLS, OpenSSL's record buffers go as well
// (record_buffers.hpp): nothing is buffered and nothing is to be sent.
template <typename Stream>
void connection<Stream>::do_read() {
  reading_ = true;
  if (const auto deadline_ms = session_.take_read_deadline_ms()) read_deadline_.set_after_ms(*deadline_ms);
  read_deadline_.arm(boost::beast::bind_front_handler(&connection::on_read_deadline, this->shared_from_this()));
  if (session_.holds_input()) {
    transport::tcp_layer(stream_).expires_never();  // a write's stall timeout is not this read's
    return stream_.async_read_some(session_.input_space(),
                                   boost::beast::bind_front_handler(&connection::on_read, this->shared_from_this()));
  }
  transport::async_read_pooled(stream_,
                               boost::beast::bind_front_handler(&connection::on_read_lent, this->shared_from_this()));
  if (session_.between_requests()) record_buffers_.release_while_idle();
}

template <typename Stream>
void connection<Stream>::on_read(error_code ec, std::size_t bytes) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  if (!ec && !closed_) session_.on_input(bytes);
  after_read(ec);
}

template <typename Stream>
void connection<Stream>::on_read_lent(error_code ec, std::span<const std::uint8_t> bytes) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  if (!ec && !closed_) session_.on_input(bytes);
  after_read(ec);
}

// The client's end of input is the session's to judge (inside a header it is a malformed
// request); a timeout or a broken connection ends it here.
template <typename Stream>
void connection<Stream>::after_read(error_code ec) {
  reading_ = false;
  if (closed_) return;
  if (ec == net::error::eof) {
    session_.on_input_end();
  } else if (ec) {
    return do_close();
  }
  pump();
}

// Past the deadline a read still waiting ends the connection, as a stream's expiry would.
template <typename Stream>
void connection<Stream>::on_read_deadline() {
  if (!closed_ && reading_) close_now();  // no read: the next one arms the deadline again
}

template <typename Stream>
void connection<Stream>::on_write(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  writing_ = false;
  if (ec) {
    // The client closed mid-response, or stopped reading past the send timeout.
    session_.on_output_failed(ec == boost::beast::error::timeout);
    return close_now();
  }
  session_.on_output_written();
  pump();
}

template <typename Stream>
void connection<Stream>::do_close() {
  closed_ = true;
  read_deadline_.cancel();  // its wait holds the connection
  if constexpr (transport::is_tls<Stream>) {
    transport::expire_after_ms(stream_, linger_ms);
    stream_.async_shutdown([self = this->shared_from_this()](error_code) { transport::close_now(self->stream_); });
  } else {
    error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    transport::expire_after_ms(stream_, linger_ms);  // once: a client that keeps sending does not extend it
    linger_buffer_.resize(4096);
    linger();
  }
}

// After our FIN, unread request bytes would make the kernel answer with a reset
// that can destroy the response we just sent (a 413 to an upload, say): read and
// drop what the client still sends, for a bounded time.
template <typename Stream>
void connection<Stream>::linger() {
  stream_.async_read_some(net::buffer(linger_buffer_), [self = this->shared_from_this()](error_code ec, std::size_t) {
    if (!ec) self->linger();
  });
}

template <typename Stream>
void connection<Stream>::close_now() {
  closed_ = true;
  read_deadline_.cancel();
  transport::close_now(stream_);
}

template class connection<transport::plain_stream>;
template class connection<transport::tls_stream>;

}  // namespace memgate::http1
