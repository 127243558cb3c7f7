#include "http2/connection.hpp"

#include "metrics/allocation_charge.hpp"
#include "transport/counted_write.hpp"
#include "transport/pooled_read.hpp"
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
      deadline_(stream_.get_executor()) {}

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
  transport::async_read_pooled(stream_, boost::beast::bind_front_handler(&connection::on_read, this->shared_from_this()));
  // A read of input the TLS engine held made OpenSSL set up its read buffer.
  if (!writing_) release_idle_tls_buffers();
}

template <typename Stream>
void connection<Stream>::on_read(error_code ec, std::span<const std::uint8_t> bytes) {
  const metrics::allocations_of charge(metrics::protocol::h2);
  if (ec) return close();
  if (!feed(bytes)) return;
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
  deadline_.clear();
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
    if (!stall_deadline_armed_) deadline_.set_after_ms(limits.send_timeout_ms);
    stall_deadline_armed_ = true;
  } else {
    stall_deadline_armed_ = false;
    deadline_.set_after_ms(limits.idle_timeout_ms);
  }
  deadline_.arm(boost::beast::bind_front_handler(&connection::on_deadline, this->shared_from_this()));
}

// A stalled response ends the connection at once; an idle one gets a GOAWAY first
// (RFC 9113 6.8), so the peer knows what was processed.
template <typename Stream>
void connection<Stream>::on_deadline() {
  const metrics::allocations_of charge(metrics::protocol::h2);
  if (closing_) return;  // already on the way out
  if (stall_deadline_armed_) return close();
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
  deadline_.cancel();
  transport::close_now(stream_);
}

template class connection<transport::plain_stream>;
template class connection<transport::tls_stream>;

}  // namespace memgate::http2
