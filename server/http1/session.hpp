#pragma once
// One HTTP/1.1 connection: read a request, answer it, read the next. Pipelined
// requests wait in the read buffer and are answered in order; reading pauses
// while a response is written, which bounds what a client can make us hold.
#include "app/services.hpp"
#include "http1/write_list.hpp"
#include "metrics/allocation_charge.hpp"
#include "strategy/strategies.hpp"
#include "transport/connection_slot.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>
#include <string>

namespace memgate::http1 {

template <typename Stream>
class session : public std::enable_shared_from_this<session<Stream>>, private strategy::chunk_target {
 public:
  session(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
          app::services& app, const strategy::strategies& strategies);
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
  void on_write_response_end(error_code ec, std::size_t bytes);

  void start_stream();
  void do_write_stream();
  void on_write_stream(error_code ec, std::size_t bytes);
  // chunk_target: the producer's view of this response
  strategy::body_piece frame_chunk(std::uint64_t offset, std::size_t length) override;
  void on_chunks_available() override;
  void schedule_production() override;

  template <typename Handler>
  void do_write(Handler handler);
  void on_write_done();

  void on_response_done();
  void on_write_failed(error_code ec);
  void reject(unsigned status, std::string reason);  // answer and close
  void do_close();
  void linger();

  void serialize_header(unsigned status, std::string_view content_type, std::optional<std::uint64_t> content_length);
  const strategy::body_writer& body_writer() const { return strategies_.body_writer_for(route_.counts_as_request()); }
  // A /stream's header goes out with its first chunk, or with the last chunk of an empty body.
  strategy::bytes_view header_if_first(std::uint64_t offset) const;
  std::uint32_t send_timeout_ms() const { return app_.config.limits.send_timeout_ms; }

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  transport::connection_slot slot_;
  app::services& app_;
  const strategy::strategies& strategies_;

  std::optional<request_parser> parser_;
  app::route route_;
  bool keep_alive_ = false;
  std::uint64_t requests_on_connection_ = 0;
  bool close_after_response_ = false;
  std::optional<strategy::upload_sink> body_sink_;
  std::vector<std::uint8_t> body_scratch_;

  // The response being written
  std::string header_;  // its status line and header fields; keeps its capacity across requests
  app::response_body body_;
  write_list output_;
  std::optional<strategy::fresh_buffer> copy_;  // what a copying body writer wrote into
  bool writing_ = false;

  // /stream
  strategy::chunked_body chunks_;
  std::uint64_t stream_offset_ = 0;  // body bytes handed to the output
  std::size_t queued_in_flight_ = 0;  // bytes of the front queued chunk being written
  std::string chunk_line_;
};

template <typename Stream>
void start_session(Stream&& stream, boost::beast::flat_buffer&& already_read, transport::connection_slot&& slot,
                   app::services& app, const strategy::strategies& strategies) {
  const metrics::allocations_of charge(metrics::protocol::h1);
  std::make_shared<session<Stream>>(std::move(stream), std::move(already_read), std::move(slot), app, strategies)
      ->run();
}

}  // namespace memgate::http1
