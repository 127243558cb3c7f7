#include "h1_connection.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/error.hpp>

#include "pattern.hpp"
#include "worker.hpp"

namespace memgate::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;

namespace {
constexpr std::size_t read_chunk_bytes = 64 * 1024;
constexpr std::size_t max_write_bytes = 256 * 1024;
constexpr std::size_t max_write_buffers = 64;
}  // namespace

checking_parser::checking_parser(response_checker& checker) noexcept : checker_(checker) {
  eager(true);
  body_limit(boost::none);
}

void checking_parser::on_response_impl(int code, string_view, int, error_code&) {
  checker_.on_status(static_cast<unsigned>(code));
}

std::size_t checking_parser::on_body_impl(string_view body, error_code&) {
  checker_.on_body(body);
  return body.size();
}

std::size_t checking_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  checker_.on_body(body);
  return body.size();
}

template <class Stream>
h1_connection<Stream>::h1_connection(worker& w, std::size_t slot)
    : worker_(w),
      slot_(slot),
      stream_(make_stream<Stream>(w.ioc(), w.tls())),
      rate_timer_(w.ioc()),
      pacer_(w.ioc(), w.the_plan().opts().read_rate_bytes_per_s),
      ring_(w.the_plan().opts().pipeline) {
  write_buffers_.reserve(max_write_buffers);
}

template <class Stream>
void h1_connection<Stream>::start() {
  worker_.connect(socket_of(stream_), [self = this->shared_from_this()](error_code ec) { self->on_connect(ec); });
}

template <class Stream>
void h1_connection<Stream>::on_connect(error_code ec) {
  if (done_) return;
  if (ec) {
    worker_.fail_one(slot_, failure::connect);
    return finish();
  }
  socket_of(stream_).set_option(asio::ip::tcp::no_delay(true), ec);  // best effort
  if constexpr (is_tls_v<Stream>) {
    set_server_name(stream_, worker_.the_plan().opts().urls.front().host);
    stream_.async_handshake(asio::ssl::stream_base::client,
                            beast::bind_front_handler(&h1_connection::on_handshake, this->shared_from_this()));
  } else {
    on_handshake({});
  }
}

template <class Stream>
void h1_connection<Stream>::on_handshake(error_code ec) {
  if (done_) return;
  if (ec) {
    worker_.fail_one(slot_, failure::tls);
    return finish();
  }
  if constexpr (is_tls_v<Stream>) {
    const auto alpn = alpn_selected(stream_);
    if (!alpn.empty() && alpn != "http/1.1") {
      worker_.fail_one(slot_, failure::tls);
      return finish();
    }
  }
  ++worker_.mutable_stats().connections_opened;
  do_fill();
  if (idle_and_finished() && !try_hold()) return finish();
  do_read();
}

template <class Stream>
void h1_connection<Stream>::do_fill() {
  const auto quota = worker_.the_plan().opts().requests_per_connection;
  while (count_ < ring_.size() && !no_more_ && !waiting_) {
    if (quota != 0 && issued_ >= quota) {
      no_more_ = true;
      break;
    }
    const auto ticket = worker_.acquire_ticket(slot_);
    if (!ticket) {
      no_more_ = true;
      break;
    }
    ++issued_;
    if (ticket->due > clock::now()) {
      waiting_ = ticket;
      rate_timer_.expires_at(ticket->due);
      rate_timer_.async_wait(beast::bind_front_handler(&h1_connection::on_rate, this->shared_from_this()));
      break;
    }
    enqueue(ticket->seq);
  }
  do_write();
}

template <class Stream>
void h1_connection<Stream>::on_rate(error_code ec) {
  if (done_ || ec) return;  // cancelled only when the connection ends; its ticket was counted then
  const auto seq = waiting_->seq;
  waiting_.reset();
  enqueue(seq);
  do_fill();
}

template <class Stream>
void h1_connection<Stream>::enqueue(std::uint64_t seq) {
  auto& e = at(count_++);
  e.req = &worker_.the_plan().for_seq(seq);
  e.start = clock::now();
  e.body_offset = 0;
  e.head_queued = false;
}

template <class Stream>
void h1_connection<Stream>::do_write() {
  if (writing_ || done_) return;
  write_buffers_.clear();
  std::size_t bytes = 0;
  while (written_ < count_ && write_buffers_.size() + 2 <= max_write_buffers && bytes < max_write_bytes) {
    auto& e = at(written_);
    if (!e.head_queued) {
      write_buffers_.emplace_back(e.req->h1_head.data(), e.req->h1_head.size());
      bytes += e.req->h1_head.size();
      e.head_queued = true;
    }
    while (e.body_offset < e.req->body_bytes && write_buffers_.size() < max_write_buffers && bytes < max_write_bytes) {
      const auto left = e.req->body_bytes - e.body_offset;
      const auto n = static_cast<std::size_t>(left < pattern_max_slice ? left : pattern_max_slice);
      const auto slice = pattern_slice(e.body_offset, n);
      write_buffers_.emplace_back(slice.data(), slice.size());
      bytes += n;
      e.body_offset += n;
    }
    if (e.body_offset < e.req->body_bytes) break;
    ++written_;
  }
  if (write_buffers_.empty()) return;
  writing_ = true;
  asio::async_write(stream_, write_buffers_,
                    beast::bind_front_handler(&h1_connection::on_write, this->shared_from_this()));
}

template <class Stream>
void h1_connection<Stream>::on_write(error_code ec, std::size_t bytes) {
  writing_ = false;
  if (done_) return;
  worker_.mutable_stats().bytes_sent += bytes;
  if (ec) return fail_all(failure::reset);
  do_write();
}

template <class Stream>
void h1_connection<Stream>::do_read() {
  pacer_.next(read_chunk_bytes, [self = this->shared_from_this()](std::size_t limit) {
    self->stream_.async_read_some(self->read_buffer_.prepare(limit),
                                  beast::bind_front_handler(&h1_connection::on_read, self));
  });
}

template <class Stream>
void h1_connection<Stream>::on_read(error_code ec, std::size_t bytes) {
  if (done_) return;
  read_buffer_.commit(bytes);
  pacer_.consumed(bytes);
  worker_.mutable_stats().bytes_received += bytes;
  if (!parse_buffered()) return;
  if (ec) {
    // A body delimited by the close completes at end of stream.
    if ((ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) && parser_ && parser_->need_eof()) {
      error_code eof_ec;
      parser_->put_eof(eof_ec);
      if (!eof_ec && parser_->is_done()) {
        auto& e = at(0);
        const auto body = checker_.body_bytes();
        if (const auto verdict = checker_.finish()) {
          worker_.record_failure(*verdict, body);
        } else {
          worker_.record_success(e.start, body, false);
        }
        parser_.reset();
        head_ = (head_ + 1) % ring_.size();
        --count_;
        if (written_ > 0) --written_;
      }
    }
    // Closed (or failed) with requests outstanding: those are lost. Otherwise an idle close.
    if (count_ > 0 || waiting_) return fail_all(failure::reset);
    return finish();
  }
  do_fill();
  if (idle_and_finished() && !try_hold()) return finish();
  do_read();
}

template <class Stream>
bool h1_connection<Stream>::parse_buffered() {
  while (read_buffer_.size() > 0) {
    if (count_ == 0) {
      fail_all(failure::protocol);  // bytes nobody asked for
      return false;
    }
    if (!parser_) {
      checker_.reset(at(0).req->expect);
      parser_.emplace(checker_);
    }
    error_code ec;
    const auto used = parser_->put(read_buffer_.data(), ec);
    read_buffer_.consume(used);
    if (ec && ec != http::error::need_more) {
      fail_all(failure::protocol);
      return false;
    }
    if (cancel_due()) {
      cancel_head();
      return false;
    }
    if (ec) break;  // need_more
    if (!parser_->is_done()) continue;

    const bool keep_alive = parser_->keep_alive();
    const bool request_fully_written = written_ > 0;
    parser_.reset();
    const auto body = checker_.body_bytes();
    const auto verdict = checker_.finish();
    const auto start = at(0).start;
    head_ = (head_ + 1) % ring_.size();
    --count_;
    if (written_ > 0) --written_;
    if (verdict) {
      worker_.record_failure(*verdict, body);
    } else {
      worker_.record_success(start, body, false);
    }
    if (!keep_alive || !request_fully_written) {
      // The server ends the connection (or answered before reading our body): whatever else
      // we sent on it will not be answered.
      if (count_ > 0 || waiting_) {
        fail_all(failure::reset);
      } else {
        finish();
      }
      return false;
    }
  }
  return true;
}

template <class Stream>
bool h1_connection<Stream>::cancel_due() const noexcept {
  const auto limit = worker_.the_plan().opts().cancel_after_bytes;
  return limit > 0 && parser_ && !parser_->is_done() && checker_.body_bytes() >= limit;
}

// With --pipeline 1 (enforced with --cancel-after-bytes) the head is the only request in flight.
template <class Stream>
void h1_connection<Stream>::cancel_head() {
  parser_.reset();
  worker_.record_cancelled(at(0).start, checker_.body_bytes(), checker_.abandon(), false);
  head_ = (head_ + 1) % ring_.size();
  --count_;
  if (written_ > 0) --written_;
  finish();
}

template <class Stream>
bool h1_connection<Stream>::idle_and_finished() const noexcept {
  return count_ == 0 && no_more_ && !waiting_;
}

// --hold keeps a connection that served a request open and idle, reading only to notice a
// close, until the worker releases it.
template <class Stream>
bool h1_connection<Stream>::try_hold() {
  if (!worker_.the_plan().opts().hold || issued_ == 0) return false;
  if (!held_) {
    held_ = true;
    worker_.connection_held(slot_);
  }
  return true;
}

template <class Stream>
void h1_connection<Stream>::release() {
  if (held_) finish();
}

template <class Stream>
void h1_connection<Stream>::fail_all(failure reason) {
  if (done_) return;
  for (std::size_t i = 0; i < count_; ++i) {
    worker_.record_failure(reason, i == 0 ? checker_.body_bytes() : 0);
  }
  count_ = 0;
  written_ = 0;
  if (waiting_) {
    worker_.record_failure(reason);
    waiting_.reset();
  }
  finish();
}

template <class Stream>
void h1_connection<Stream>::abort(failure reason) {
  if (done_) return;
  for (std::size_t i = 0; i < count_; ++i) worker_.record_failure(reason);
  if (waiting_) worker_.record_failure(reason);
  count_ = 0;
  waiting_.reset();
  done_ = true;
  error_code ignored;
  socket_of(stream_).close(ignored);
  rate_timer_.cancel();
  pacer_.cancel();
}

template <class Stream>
void h1_connection<Stream>::finish() {
  if (done_) return;
  done_ = true;
  error_code ignored;
  socket_of(stream_).shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_of(stream_).close(ignored);
  rate_timer_.cancel();
  pacer_.cancel();
  worker_.connection_done(slot_);
}

template class h1_connection<tcp_stream_type>;
template class h1_connection<tls_stream_type>;

}  // namespace memgate::loadgen
