#pragma once
// One HTTP/1.1 connection's protocol state, with no socket: the transport hands it bytes
// it read elsewhere with on_input(bytes) while the session holds no input, and otherwise
// reads into input_space() and reports that with on_input(count); what to write comes from
// collect_output(). connection.hpp wires it to a transport, which owns the socket and the
// timers. The session keeps only the input it has not parsed (a partial request, pipelined
// requests), and no buffer once it is consumed; pipelined requests are answered in order;
// input is wanted only between responses, which bounds what a client can make us hold.
#include "app/services.hpp"
#include "http1/field_arena.hpp"
#include "http1/response_header.hpp"
#include "http1/write_list.hpp"
#include "strategy/strategies.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memgate::http1 {

class session;

// What the session needs from whoever moves its bytes.
class session_owner {
 public:
  // Output may be ready after asynchronous work (a /mem sample, a chunk made): collect it.
  virtual void wake() = 0;
  // Keeps the session alive while work it posted is pending (it may live inside its owner).
  virtual std::shared_ptr<session> hold() = 0;

 protected:
  ~session_owner() = default;
};

// How the connection ends once collect_output() has nothing more.
enum class session_end {
  open,      // not over
  graceful,  // every response is out: half-close and drain what the client still sends
  abort,     // a write failed: close at once, nothing more reaches the client
};

class session final : private strategy::chunk_target {
 public:
  // `already_read`: bytes a protocol sniffer read first, parsed before any read.
  session(app::services& app, const strategy::strategies& strategies, boost::asio::any_io_executor executor,
          session_owner& owner, boost::beast::flat_buffer&& already_read);
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Parses what is already buffered. Call once, before the first read.
  void start();

  // ---- input ----
  bool wants_input() const;
  // A deadline for the next read, when one starts now; nullopt: the current deadline stands.
  // A header has one deadline however many reads it takes; each body read gets the idle timeout.
  std::optional<std::uint32_t> take_read_deadline_ms();
  bool holds_input() const { return input_.size() > 0; }
  // Waiting for a request's first byte: no part of one is read, nothing is to be sent.
  bool between_requests() const { return phase_ == phase::header && !holds_input() && !parser_->got_some(); }
  boost::asio::mutable_buffer input_space();
  void on_input(std::size_t bytes);  // that many bytes arrived in input_space()
  // Bytes read elsewhere, valid during the call: parsed in place, what is left kept.
  void on_input(std::span<const std::uint8_t> bytes);
  void on_input_end();               // the client closed its side

  // ---- output ----
  // The next write's buffers: empty when nothing is to be written now (or a write is in flight).
  std::span<const boost::asio::const_buffer> collect_output();
  void on_output_written();
  // A write failed; `stalled`: the send timeout cut it off (our doing, not an abandoned response).
  void on_output_failed(bool stalled);
  std::uint32_t send_timeout_ms() const { return app_.config.limits.send_timeout_ms; }

  session_end end() const { return end_; }

 private:
  using request_parser = boost::beast::http::request_parser<boost::beast::http::buffer_body, field_allocator<char>>;
  enum class phase { header, body, responding, over };
  enum class output_kind { none, interim, response_end, stream_part };

  void start_request();
  void new_parser();
  void release_parser();
  std::string_view buffered() const;  // the input not parsed yet
  void consume(std::size_t bytes) { lent_.empty() ? input_.consume(bytes) : lent_.remove_prefix(bytes); }
  void parse();
  bool skip_empty_lines();
  void parse_header();
  void parse_body();
  void on_header();
  void on_request_complete();

  void respond(app::response response);
  void start_stream();
  void prepare_stream_output();
  void on_stream_written();
  // chunk_target: the producer's view of this response
  strategy::body_piece frame_chunk(std::uint64_t offset, std::size_t length) override;
  void on_chunks_available() override;
  void schedule_production() override;

  void on_response_done();
  void reject(unsigned status, std::string reason);  // answer and close

  void build_header(unsigned status, std::string_view content_type, body_framing framing, std::uint64_t content_length);
  const strategy::body_writer& body_writer() const { return strategies_.body_writer_for(route_.counts_as_request()); }
  // A /stream's header goes out with its first chunk, or with the last chunk of an empty body.
  strategy::bytes_view header_if_first(std::uint64_t offset) const;

  app::services& app_;
  app::connection_faults faults_{app_.config};  // charged when the session, and so its connection, ends
  const strategy::strategies& strategies_;
  boost::asio::any_io_executor executor_;
  session_owner& owner_;
  boost::beast::flat_buffer input_;
  std::string_view lent_;  // during on_input(bytes): what of them is not parsed yet (input_ is empty)
  phase phase_ = phase::header;
  session_end end_ = session_end::open;
  bool header_deadline_due_ = false;  // a new header wait began: its deadline is not armed yet
  bool parse_posted_ = false;         // a pipelined request is parsed on the next turn

  field_arena fields_;  // the parser's fields; declared first, so it outlives the parser
  std::optional<request_parser> parser_;
  unsigned version_ = 11;  // the request's HTTP version, once its header is parsed
  app::route route_;
  bool keep_alive_ = false;
  bool head_ = false;  // a HEAD request: the GET response's header, without its body
  bool folded_ = false;  // a header field line was folded (obs-fold)
  bool close_delimited_ = false;  // a body of unknown length to HTTP/1.0: no chunks, the close ends it
  std::uint64_t requests_on_connection_ = 0;
  bool close_after_response_ = false;
  std::optional<strategy::upload_sink> body_sink_;
  std::vector<std::uint8_t> body_scratch_;

  // The response being written
  response_header header_;
  app::response_body body_;
  write_list output_;
  output_kind pending_ = output_kind::none;  // what output_ holds, collected or not
  bool writing_ = false;                      // output_ was collected and is being written
  std::optional<strategy::fresh_buffer> copy_;  // what a copying body writer wrote into

  // /stream
  bool streaming_ = false;
  strategy::chunked_body chunks_;
  std::uint64_t stream_offset_ = 0;   // body bytes handed to the output
  std::size_t queued_in_flight_ = 0;  // bytes of the front queued chunk being written
  std::string chunk_line_;
};

}  // namespace memgate::http1
