#include "http2/connection.hpp"

#include "metrics/allocation_charge.hpp"
#include "transport/counted_write.hpp"
#include "transport/streams.hpp"

#include <boost/beast/core/bind_handler.hpp>

#include <span>

namespace memgate::http2 {
namespace net = boost::asio;

template <typename Stream>
connection<Stream>::connection(Stream&& stream, boost::beast::flat_buffer&& already_read,
                               transport::connection_slot&& slot, app::services& app,
                               const strategy::strategies& strategies)
    : stream_(std::move(stream)),
      record_buffers_(stream_),
      already_read_(std::move(already_read)),
      slot_(std::move(slot)),
      app_(app),
      strategies_(strategies),
      idle_timer_(stream_.get_executor()) {}

template <typename Stream>
void connection<Stream>::run() {
  std::weak_ptr<connection> weak = this->shared_from_this();
  session_ = std::make_shared<session>(app_, strategies_, stream_.get_executor(), [weak] {
    if (auto self = weak.lock()) self->do_write();
  });
  const auto prefix = already_read_.data();
  if (!feed({static_cast<const std::uint8_t*>(prefix.data()), prefix.size()})) return;
  already_read_ = {};
  do_write();
  if (!closing_) do_read();
}

template <typename Stream>
bool connection<Stream>::feed(std::span<const std::uint8_t> bytes) {
  switch (session_->receive(bytes)) {
    case receive_result::keep_reading:
      return true;
    case receive_result::flush_then_close:
      closing_ = true;
      return true;
    case receive_result::close_now:
      close();
      return false;
  }
  return true;
}

template <typename Stream>
void connection<Stream>::do_read() {
  refresh_deadline();
  stream_.async_read_some(net::buffer(read_buffer_),
                          boost::beast::bind_front_handler(&connection::on_read, this->shared_from_this()));
  // The read's first SSL_read made OpenSSL set up its read buffer, empty until the peer sends.
  if (!writing_) release_idle_tls_buffers();
}

template <typename Stream>
void connection<Stream>::on_read(error_code ec, std::size_t bytes) {
  const metrics::allocations_of charge(metrics::protocol::h2);
  if (ec) return close();
  if (!feed({read_buffer_.data(), bytes})) return;
  do_write();
  if (!closing_) do_read();
}

template <typename Stream>
void connection<Stream>::do_write() {
  if (writing_) return;
  auto& batch = session_->collect_output();
  if (batch.empty()) {
    if (closing_ || session_->finished()) return close();
    refresh_deadline();
    release_idle_tls_buffers();
    return;
  }
  writing_ = true;
  idle_deadline_ = clock::time_point::max();
  const auto& buffers = batch.buffers();  // lives in the batch until on_batch_written
  transport::async_write_counted(stream_, std::span<const net::const_buffer>(buffers), record_buffers_.staging(),
                                 app_.config.limits.send_timeout_ms,
                                 boost::beast::bind_front_handler(&connection::on_write, this->shared_from_this()));
}

template <typename Stream>
void connection<Stream>::on_write(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h2);
  writing_ = false;
  session_->on_batch_written();
  if (ec) return close();
  stall_deadline_armed_ = false;  // the peer took bytes: progress
  refresh_deadline();
  do_write();
}

// One deadline at a time. A write under way has its own stall timeout; a response
// held back only by the peer's flow-control window gets the send timeout, armed once,
// so frames the peer keeps sending do not extend it; otherwise the idle timeout.
template <typename Stream>
void connection<Stream>::refresh_deadline() {
  if (writing_) return;
  const auto& limits = app_.config.limits;
  if (session_->blocked_by_peer_window()) {
    idle_deadline_ = clock::time_point::max();
    if (!stall_deadline_armed_) transport::expire_after_ms(stream_, limits.send_timeout_ms);
    stall_deadline_armed_ = true;
    return;
  }
  stall_deadline_armed_ = false;
  // Idle is our own timer, not the stream's expiry: an expiry closes the socket, and a
  // GOAWAY must go out first (RFC 9113 6.8) so the peer knows what was processed.
  transport::tcp_layer(stream_).expires_never();
  idle_deadline_ = clock::now() + std::chrono::milliseconds(limits.idle_timeout_ms);
  wait_for_idle_deadline();
}

// One wait in flight, whatever moves the deadline: not a timer cancellation per read.
template <typename Stream>
void connection<Stream>::wait_for_idle_deadline() {
  if (idle_timer_waiting_ || idle_deadline_ == clock::time_point::max()) return;
  idle_timer_waiting_ = true;
  idle_timer_.expires_at(idle_deadline_);
  idle_timer_.async_wait(boost::beast::bind_front_handler(&connection::on_idle_timer, this->shared_from_this()));
}

template <typename Stream>
void connection<Stream>::on_idle_timer(error_code ec) {
  const metrics::allocations_of charge(metrics::protocol::h2);
  idle_timer_waiting_ = false;
  if (ec || closing_) return;  // cancelled by close(), or already on the way out
  if (clock::now() < idle_deadline_) return wait_for_idle_deadline();  // activity moved it (or not idle)
  session_->end_idle_connection();
  closing_ = true;
  do_write();
}

// With no stream open and nothing to send, the TLS record buffers go until the peer asks
// for more: an idle connection holds what it held when OpenSSL freed them after every
// record. While streams are open they stay, however the writes and reads interleave.
template <typename Stream>
void connection<Stream>::release_idle_tls_buffers() {
  if (!session_->has_open_streams()) record_buffers_.release_while_idle();
}

template <typename Stream>
void connection<Stream>::close() {
  idle_timer_.cancel();  // its wait holds the connection
  transport::close_now(stream_);
}

template class connection<transport::plain_stream>;
template class connection<transport::tls_stream>;

}  // namespace memgate::http2
