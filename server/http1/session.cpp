#include "http1/session.hpp"

#include "http1/request_checks.hpp"
#include "metrics/counters.hpp"
#include "transport/counted_write.hpp"
#include "transport/streams.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <array>
#include <cstdio>

namespace memgate::http1 {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

constexpr std::size_t body_read_buffer_bytes = 64 * 1024;
constexpr std::size_t chunks_per_production_step = 16;
constexpr std::uint32_t linger_ms = 1000;
constexpr std::string_view crlf = "\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

}  // namespace

template <typename Stream>
session<Stream>::session(Stream&& stream, beast::flat_buffer&& already_read, transport::connection_slot&& slot,
                         app::services& app)
    : stream_(std::move(stream)), buffer_(std::move(already_read)), slot_(std::move(slot)), app_(app) {}

// The last handler let go of the session: the connection is closed.
template <typename Stream>
session<Stream>::~session() {
  app::on_connection_closed(app_);
}

template <typename Stream>
void session<Stream>::run() {
  do_read_header();
}

// ---- reading ---------------------------------------------------------------

template <typename Stream>
void session<Stream>::do_read_header() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(app_.config.limits.max_header_bytes));
  parser_->body_limit(boost::none);  // the upload sink enforces the buffered limit
  // An idle keep-alive connection and a slow header share one clock: whichever is shorter.
  const auto& limits = app_.config.limits;
  transport::expire_after_ms(stream_, buffer_.size() > 0 ? limits.header_read_timeout_ms
                                                          : std::min(limits.idle_timeout_ms, limits.header_read_timeout_ms));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&session::on_read_header, this->shared_from_this()));
}

template <typename Stream>
void session<Stream>::on_read_header(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted) {
    return do_close();
  }
  if (ec == http::error::header_limit) return reject(431, "request header section exceeds the limit");
  if (ec) return reject(400, "malformed request: " + ec.message());

  const auto& request = parser_->get();
  if (auto rejection = check_request_header(request.base(), app_.config.limits.max_header_fields)) {
    return reject(rejection->status, std::move(rejection->reason));
  }
  keep_alive_ = request.keep_alive() && !app_.draining.load(std::memory_order_relaxed) &&
                ++requests_on_connection_ < app_.config.limits.max_requests_per_connection;
  auto classified = app::classify(std::string_view(request.method_string()), std::string_view(request.target()),
                                  app_.config.limits);
  if (auto* error = std::get_if<app::route_error>(&classified)) {
    // The body (if any) would have to be read to keep the connection usable: close instead.
    if (!parser_->is_done()) close_after_response_ = true;
    return respond(app::error_response(*error));
  }
  route_ = std::get<app::route>(classified);
  app::on_request_started(route_, app_);
  if (parser_->is_done()) return on_request_complete();
  body_sink_.emplace(route_.kind == app::endpoint::upload ? app_.config.request_body : request_body_strategy::streamed,
                     app_.config.limits.max_buffered_body_bytes);
  body_scratch_.resize(body_read_buffer_bytes);
  // Beast reads at most the buffer's free capacity per call (512 bytes for a
  // fresh buffer): without this, a body arrives in 513-byte recvmsg calls.
  buffer_.reserve(body_read_buffer_bytes);
  do_read_body();
}

template <typename Stream>
void session<Stream>::do_read_body() {
  auto& body = parser_->get().body();
  body.data = body_scratch_.data();
  body.size = body_scratch_.size();
  transport::expire_after_ms(stream_, app_.config.limits.idle_timeout_ms);
  http::async_read_some(stream_, buffer_, *parser_,
                        beast::bind_front_handler(&session::on_read_body, this->shared_from_this()));
}

template <typename Stream>
void session<Stream>::on_read_body(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  if (ec == http::error::need_buffer) ec = {};  // the scratch buffer is full: a normal step
  if (ec == beast::error::timeout || ec == net::error::eof || ec == http::error::partial_message ||
      ec == net::error::connection_reset) {
    return do_close();
  }
  if (ec) return reject(400, "malformed request body: " + ec.message());
  const std::size_t received = body_scratch_.size() - parser_->get().body().size;
  if (!body_sink_->accept({body_scratch_.data(), received})) {
    return reject(413, "request body exceeds the buffered limit of " +
                           std::to_string(app_.config.limits.max_buffered_body_bytes) + " bytes");
  }
  if (!parser_->is_done()) return do_read_body();
  on_request_complete();
}

template <typename Stream>
void session<Stream>::on_request_complete() {
  std::vector<std::uint8_t>().swap(body_scratch_);
  buffer_.shrink_to_fit();  // an idle keep-alive connection holds no body-sized buffer
  switch (route_.kind) {
    case app::endpoint::upload:
      return respond(app::json_response(body_sink_->finish_json()));
    case app::endpoint::stream:
      return start_stream();
    case app::endpoint::mem:
      return app_.sampler.sample(route_.trim, stream_.get_executor(),
                                 [self = this->shared_from_this()](std::string json) {
                                   self->respond(app::json_response(std::move(json)));
                                 });
    default:
      return respond(app::immediate_response(route_, app_));
  }
}

// ---- whole responses -------------------------------------------------------

template <typename Stream>
http::response<response_body_view> session<Stream>::make_message(app::response response, bool chunked) {
  http::response<response_body_view> message{static_cast<http::status>(response.status), parser_->get().version()};
  message.set(http::field::server, "memgate-refserver");
  message.set(http::field::content_type, response.content_type);
  message.keep_alive(keep_alive_ && !close_after_response_);
  message.body() = std::move(response.body);
  if (chunked) {
    message.chunked(true);
  } else {
    message.prepare_payload();
  }
  return message;
}

template <typename Stream>
std::string session<Stream>::serialized_header(http::response<response_body_view>& message) {
  http::response_serializer<response_body_view> serializer(message);
  serializer.split(true);
  std::string header;
  error_code ec;
  while (!serializer.is_header_done()) {
    serializer.next(ec, [&](error_code&, const auto& buffers) {
      const std::size_t size = net::buffer_size(buffers);
      const std::size_t old = header.size();
      header.resize(old + size);
      net::buffer_copy(net::buffer(header.data() + old, size), buffers);
      serializer.consume(size);
    });
  }
  return header;
}

template <typename Stream>
void session<Stream>::respond(app::response response) {
  message_.emplace(make_message(std::move(response), false));
  // The harness's own probes (/mem, /healthz) and errors never copy: bytes_copied stays about measured traffic.
  if (app_.config.copy == copy_strategy::writev || !route_.counts_as_request()) {
    serializer_.emplace(*message_);
    return do_write_serialized();
  }
  const std::string header = serialized_header(*message_);
  const auto& body = message_->body();
  strategy::fresh_buffer fresh(header.size() + body.size());
  fresh.append(header);
  fresh.append_body(body, 0, body.size());
  in_flight_ = fresh.share();
  transport::async_write_counted(stream_, net::buffer(*in_flight_), send_timeout_ms(),
                                 beast::bind_front_handler(&session::on_write_whole, this->shared_from_this()));
}

template <typename Stream>
void session<Stream>::do_write_serialized() {
  transport::expire_after_ms(stream_, send_timeout_ms());
  http::async_write_some(stream_, *serializer_,
                         beast::bind_front_handler(&session::on_write_serialized, this->shared_from_this()));
}

template <typename Stream>
void session<Stream>::on_write_serialized(error_code ec, std::size_t bytes) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  if (ec) return on_write_failed(ec);
  transport::count_write(bytes);
  if (!serializer_->is_done()) return do_write_serialized();
  serializer_.reset();
  on_response_done();
}

template <typename Stream>
void session<Stream>::on_write_whole(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  in_flight_.reset();
  if (ec) return on_write_failed(ec);
  on_response_done();
}

// ---- /stream: chunked, each chunk after the socket took the previous one ----

template <typename Stream>
std::string session<Stream>::chunk_line(std::size_t length) const {
  char line[24];
  const int size = std::snprintf(line, sizeof line, "%zx\r\n", length);
  return std::string(line, static_cast<std::size_t>(size));
}

template <typename Stream>
void session<Stream>::start_stream() {
  message_.emplace(make_message({200, "application/octet-stream", app::response_body::pattern(0)}, true));
  stream_header_ = serialized_header(*message_);
  stream_offset_ = 0;
  if (app_.config.no_backpressure) return produce_ahead();
  do_write_chunk();
}

template <typename Stream>
void session<Stream>::do_write_chunk() {
  const bool finite_end = !route_.infinite && stream_offset_ >= route_.length;
  if (finite_end) return do_write_last_chunk();
  const std::size_t length = route_.infinite ? route_.chunk_bytes
                                             : static_cast<std::size_t>(std::min<std::uint64_t>(
                                                   route_.chunk_bytes, route_.length - stream_offset_));
  const auto body = app::response_body::pattern(stream_offset_ + length);
  chunk_line_ = chunk_line(length);
  auto handler = beast::bind_front_handler(&session::on_write_chunk, this->shared_from_this());
  if (app_.config.copy == copy_strategy::writev) {
    const auto slice = body.slice(stream_offset_, length);
    stream_offset_ += length;
    std::array<net::const_buffer, 4> pieces{net::buffer(stream_header_), net::buffer(chunk_line_),
                                            net::buffer(slice.data(), slice.size()), net::buffer(crlf.data(), 2)};
    return transport::async_write_counted(stream_, pieces, send_timeout_ms(), std::move(handler));
  }
  strategy::fresh_buffer fresh(stream_header_.size() + chunk_line_.size() + length + 2);
  fresh.append(stream_header_);
  fresh.append(chunk_line_);
  fresh.append_body(body, stream_offset_, length);
  fresh.append(crlf);
  stream_offset_ += length;
  in_flight_ = fresh.share();
  transport::async_write_counted(stream_, net::buffer(*in_flight_), send_timeout_ms(), std::move(handler));
}

template <typename Stream>
void session<Stream>::on_write_chunk(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  in_flight_.reset();
  stream_header_.clear();  // sent with the first chunk
  if (ec) return on_write_failed(ec);
  do_write_chunk();
}

template <typename Stream>
void session<Stream>::do_write_last_chunk() {
  std::array<net::const_buffer, 2> pieces{net::buffer(stream_header_), net::buffer(last_chunk.data(), last_chunk.size())};
  transport::async_write_counted(stream_, pieces, send_timeout_ms(), [self = this->shared_from_this()](error_code ec, std::size_t) {
    const metrics::allocations_of charge(metrics::protocol::h1);
    self->stream_header_.clear();
    if (ec) return self->on_write_failed(ec);
    self->on_response_done();
  });
}

// --no-backpressure: chunks are materialised and queued as fast as the loop
// turns, whatever the socket takes; the queue is what grows.
template <typename Stream>
void session<Stream>::produce_ahead() {
  const metrics::allocations_of charge(metrics::protocol::h1);
  const std::uint64_t cap = app_.config.limits.no_backpressure_queue_cap_bytes;
  for (std::size_t i = 0; i < chunks_per_production_step; ++i) {
    const bool done = !route_.infinite && stream_offset_ >= route_.length;
    if (done || queued_bytes_ >= cap) break;
    const std::size_t length = route_.infinite ? route_.chunk_bytes
                                               : static_cast<std::size_t>(std::min<std::uint64_t>(
                                                     route_.chunk_bytes, route_.length - stream_offset_));
    const std::string line = chunk_line(length);
    strategy::fresh_buffer chunk(stream_header_.size() + line.size() + length + 2);
    chunk.append(stream_header_);
    chunk.append(line);
    chunk.append_body(app::response_body::pattern(stream_offset_ + length), stream_offset_, length);
    chunk.append(crlf);
    stream_header_.clear();
    stream_offset_ += length;
    queued_bytes_ += chunk.size();
    queued_.push_back(chunk.share());
  }
  if (!writing_queued_) do_write_queued();
  const bool more = route_.infinite || stream_offset_ < route_.length;
  producer_paused_ = more && queued_bytes_ >= cap;
  if (more && !producer_paused_) net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->produce_ahead(); });
}

template <typename Stream>
void session<Stream>::do_write_queued() {
  if (queued_.empty()) {
    writing_queued_ = false;
    if (!route_.infinite && stream_offset_ >= route_.length) do_write_last_chunk();
    return;
  }
  writing_queued_ = true;
  transport::async_write_counted(stream_, net::buffer(*queued_.front()), send_timeout_ms(),
                                 beast::bind_front_handler(&session::on_write_queued, this->shared_from_this()));
}

template <typename Stream>
void session<Stream>::on_write_queued(error_code ec, std::size_t) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  queued_bytes_ -= queued_.front()->size();
  queued_.pop_front();
  if (ec) {
    queued_.clear();
    producer_paused_ = false;
    route_.infinite = false;
    stream_offset_ = route_.length;  // stops the producer
    return on_write_failed(ec);
  }
  if (producer_paused_ && queued_bytes_ < app_.config.limits.no_backpressure_queue_cap_bytes / 2) {
    producer_paused_ = false;
    produce_ahead();  // refills the queue; this write chain goes on below
  }
  do_write_queued();
}

// ---- end of a response -----------------------------------------------------

template <typename Stream>
void session<Stream>::on_response_done() {
  if (route_.counts_as_request()) metrics::add(metrics::counter::h1_requests);
  message_.reset();
  body_sink_.reset();
  route_ = {};
  if (!keep_alive_ || close_after_response_ || app_.draining.load(std::memory_order_relaxed)) return do_close();
  do_read_header();
}

// A response write failed: the client closed mid-response, or stopped reading past
// the send timeout (that one is our cut-off, not the client abandoning the response).
template <typename Stream>
void session<Stream>::on_write_failed(error_code ec) {
  if (ec != beast::error::timeout) app::on_response_abandoned(app_);
  transport::close_now(stream_);
}

template <typename Stream>
void session<Stream>::reject(unsigned status, std::string reason) {
  keep_alive_ = false;
  close_after_response_ = true;
  route_ = {};  // not a measured request
  if (!parser_ || !parser_->is_header_done()) parser_.emplace();  // a fresh header: HTTP/1.1 for the reply
  respond(app::error_response({status, std::move(reason)}));
}

template <typename Stream>
void session<Stream>::do_close() {
  if constexpr (transport::is_tls<Stream>) {
    transport::expire_after_ms(stream_, 1000);
    stream_.async_shutdown([self = this->shared_from_this()](error_code) { transport::close_now(self->stream_); });
  } else {
    error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    transport::expire_after_ms(stream_, linger_ms);  // once: a client that keeps sending does not extend it
    linger();
  }
}

// After our FIN, unread request bytes would make the kernel answer with a reset
// that can destroy the response we just sent (a 413 to an upload, say): read and
// drop what the client still sends, for a bounded time.
template <typename Stream>
void session<Stream>::linger() {
  body_scratch_.resize(4096);
  stream_.async_read_some(net::buffer(body_scratch_), [self = this->shared_from_this()](error_code ec, std::size_t) {
    if (!ec) self->linger();
  });
}

template class session<transport::plain_stream>;
template class session<transport::tls_stream>;

}  // namespace memgate::http1
