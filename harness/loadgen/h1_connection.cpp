#include "h1_connection.hpp"

#include <boost/beast/http/error.hpp>

#include "pattern.hpp"
#include "worker.hpp"

namespace memgate::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;

namespace {
constexpr std::size_t max_write_bytes = 256 * 1024;
constexpr std::size_t max_write_buffers = 64;
}  // namespace

std::string malformed_h1_message(error_code ec) {
  return "malformed HTTP/1.1 response (RFC 9112): " + ec.message();
}

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
    : connection_base<h1_connection, Stream>(w, slot), ring_(w.the_plan().opts().pipeline) {
  write_buffers_.reserve(max_write_buffers);
}

template <class Stream>
bool h1_connection<Stream>::accepts_alpn(std::string_view selected) noexcept {
  return selected.empty() || selected == "http/1.1";
}

template <class Stream>
void h1_connection<Stream>::on_open() {
  do_write();
  if (idle_and_finished() && !try_hold()) return this->finish();
  this->do_read();
}

template <class Stream>
void h1_connection<Stream>::issue(std::uint64_t seq) {
  auto& e = at(count_++);
  e.req = &this->worker_.the_plan().for_seq(seq);
  e.start = clock::now();
  e.body_offset = 0;
  e.head_queued = false;
}

// Fills the pipeline first, even while a write is in flight: a request joins it (and its
// latency starts) as soon as an entry is free, and goes out with the next write. Run again
// after a write completes, the fill takes nothing: only a read frees an entry.
template <class Stream>
void h1_connection<Stream>::do_write() {
  this->take_tickets();
  if (this->writing_ || this->done_) return;
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
  this->start_write(write_buffers_);
}

template <class Stream>
void h1_connection<Stream>::on_read(error_code ec, std::size_t bytes) {
  if (this->done_) return;
  read_buffer_.commit(bytes);
  this->pacer_.consumed(bytes);
  this->worker_.mutable_stats().bytes_received += bytes;
  if (!parse_buffered()) return;
  if (ec) {
    // A body delimited by the close completes at end of stream.
    if ((ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) && parser_ && parser_->need_eof()) {
      error_code eof_ec;
      parser_->put_eof(eof_ec);
      if (!eof_ec && parser_->is_done()) complete_head();
    }
    // Closed (or failed) with requests outstanding: those are lost. Otherwise an idle close.
    if (count_ > 0 || this->waiting_) return this->fail_all(failure::reset);
    return this->finish();
  }
  do_write();
  if (idle_and_finished() && !try_hold()) return this->finish();
  this->do_read();
}

template <class Stream>
bool h1_connection<Stream>::parse_buffered() {
  while (read_buffer_.size() > 0) {
    if (count_ == 0) {
      this->fail_all(failure::protocol);  // bytes nobody asked for
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
      this->worker_.note_malformed(malformed_h1_message(ec));
      this->fail_all(failure::malformed);
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
    complete_head();
    if (!keep_alive || !request_fully_written) {
      // The server ends the connection (or answered before reading our body): whatever else
      // we sent on it will not be answered.
      if (count_ > 0 || this->waiting_) {
        this->fail_all(failure::reset);
      } else {
        this->finish();
      }
      return false;
    }
  }
  return true;
}

// The head's response was parsed to its end: record its outcome and move on to the next.
template <class Stream>
void h1_connection<Stream>::complete_head() {
  const auto body = checker_.body_bytes();
  this->worker_.count_status(checker_.status());
  if (const auto verdict = checker_.finish()) {
    this->worker_.record_failure(*verdict, body);
  } else {
    this->worker_.record_success(at(0).start, body, false);
  }
  parser_.reset();
  pop_head();
}

template <class Stream>
void h1_connection<Stream>::pop_head() {
  head_ = (head_ + 1) % ring_.size();
  --count_;
  if (written_ > 0) --written_;
}

template <class Stream>
bool h1_connection<Stream>::cancel_due() const noexcept {
  const auto limit = this->opts().cancel_after_bytes;
  return limit > 0 && parser_ && !parser_->is_done() && checker_.body_bytes() >= limit;
}

// With --pipeline 1 (enforced with --cancel-after-bytes) the head is the only request in flight.
template <class Stream>
void h1_connection<Stream>::cancel_head() {
  parser_.reset();
  this->worker_.count_status(checker_.status());
  this->worker_.record_cancelled(at(0).start, checker_.body_bytes(), checker_.abandon(), false);
  pop_head();
  this->finish();
}

template <class Stream>
bool h1_connection<Stream>::idle_and_finished() const noexcept {
  return count_ == 0 && this->no_more_ && !this->waiting_;
}

// Held, the connection reads only to notice a close.
template <class Stream>
bool h1_connection<Stream>::try_hold() {
  if (!this->may_hold()) return false;
  if (!this->held_) this->mark_held();
  return true;
}

template <class Stream>
void h1_connection<Stream>::release() {
  if (this->held_) this->finish();
}

template class h1_connection<tcp_stream_type>;
template class h1_connection<tls_stream_type>;

}  // namespace memgate::loadgen
