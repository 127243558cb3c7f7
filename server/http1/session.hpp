#pragma once
// One HTTP/1.1 connection: read a request, answer it, read the next. Pipelined
// requests wait in the read buffer and are answered in order; reading pauses
// while a response is written, which bounds what a client can make us hold.
#include "app/services.hpp"
#include "http1/response_body_view.hpp"
#include "metrics/allocation_charge.hpp"
#include "strategy/response_copy.hpp"
#include "strategy/upload_sink.hpp"
#include "transport/connection_slot.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace memgate::http1 {

template <typename Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
 public:
  session(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
          app::services& app);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  void run();

 private:
  using error_code = boost::beast::error_code;
  using request_parser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

  void do_read_header();
  void on_read_header(error_code ec, std::size_t bytes);
  void do_read_body();
  void on_read_body(error_code ec, std::size_t bytes);
  void on_request_complete();

  void respond(app::response response);
  void do_write_serialized();
  void on_write_serialized(error_code ec, std::size_t bytes);
  void on_write_whole(error_code ec, std::size_t bytes);

  void start_stream();
  void do_write_chunk();
  void on_write_chunk(error_code ec, std::size_t bytes);
  void produce_ahead();  // --no-backpressure
  void do_write_queued();
  void on_write_queued(error_code ec, std::size_t bytes);
  void do_write_last_chunk();

  void on_response_done();
  void on_write_failed(error_code ec);
  void reject(unsigned status, std::string reason);  // answer and close
  void do_close();
  void linger();

  std::string serialized_header(boost::beast::http::response<response_body_view>& message);
  boost::beast::http::response<response_body_view> make_message(app::response response, bool chunked);
  std::string chunk_line(std::size_t length) const;
  std::uint32_t send_timeout_ms() const { return app_.config.limits.send_timeout_ms; }

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  transport::connection_slot slot_;
  app::services& app_;

  std::optional<request_parser> parser_;
  app::route route_;
  bool keep_alive_ = false;
  std::uint64_t requests_on_connection_ = 0;
  bool close_after_response_ = false;
  std::optional<strategy::upload_sink> body_sink_;
  std::vector<std::uint8_t> body_scratch_;

  std::optional<boost::beast::http::response<response_body_view>> message_;
  std::optional<boost::beast::http::response_serializer<response_body_view>> serializer_;
  strategy::owned_bytes in_flight_;  // the bytes a buffered write views

  // /stream state
  std::string stream_header_;     // sent with the first chunk
  std::uint64_t stream_offset_ = 0;  // body bytes produced so far
  std::string chunk_line_;
  std::deque<strategy::owned_bytes> queued_;  // --no-backpressure
  std::uint64_t queued_bytes_ = 0;
  bool writing_queued_ = false;
  bool producer_paused_ = false;
};

template <typename Stream>
void start_session(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
                   app::services& app) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  std::make_shared<session<Stream>>(std::move(stream), std::move(already_read), std::move(slot), app)->run();
}

}  // namespace memgate::http1
