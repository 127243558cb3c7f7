// One HTTP/1.1 client connection: keep-alive, up to --pipeline requests written ahead,
// responses matched in order and checked piecewise as they arrive. --cancel-after-bytes
// closes the connection (h1's only way to abandon a response); the worker opens the next.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include "connection.hpp"
#include "plan.hpp"
#include "read_pacer.hpp"
#include "response_check.hpp"
#include "transport.hpp"

namespace memgate::loadgen {

class worker;

// A Beast response parser that keeps no headers and hands body pieces to a checker.
class checking_parser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit checking_parser(response_checker& checker) noexcept;

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override;
  void on_field_impl(boost::beast::http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override;
  void on_finish_impl(error_code&) override {}

  response_checker& checker_;
};

template <class Stream>
class h1_connection final : public connection, public std::enable_shared_from_this<h1_connection<Stream>> {
 public:
  h1_connection(worker& w, std::size_t slot);
  void start() override;
  void abort(failure reason) override;
  void release() override;

 private:
  struct in_flight {
    const request_template* req = nullptr;
    clock::time_point start;
    std::uint64_t body_offset = 0;  // upload bytes already handed to the writer
    bool head_queued = false;
  };

  void on_connect(boost::beast::error_code ec);
  void on_handshake(boost::beast::error_code ec);
  void do_fill();
  void on_rate(boost::beast::error_code ec);
  void enqueue(std::uint64_t seq);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  bool parse_buffered();  // false when the connection ended
  bool cancel_due() const noexcept;
  void cancel_head();
  bool idle_and_finished() const noexcept;
  bool try_hold();
  void fail_all(failure reason);
  void finish();

  in_flight& at(std::size_t i) noexcept { return ring_[(head_ + i) % ring_.size()]; }

  worker& worker_;
  const std::size_t slot_;
  Stream stream_;
  boost::asio::steady_timer rate_timer_;
  read_pacer pacer_;
  std::vector<in_flight> ring_;  // --pipeline entries, reused
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t written_ = 0;  // entries from head_ fully handed to the writer
  std::optional<run_control::ticket> waiting_;
  std::uint64_t issued_ = 0;
  bool no_more_ = false;
  bool writing_ = false;
  bool held_ = false;
  bool done_ = false;
  std::vector<boost::asio::const_buffer> write_buffers_;
  boost::beast::flat_buffer read_buffer_;
  response_checker checker_;
  std::optional<checking_parser> parser_;
};

extern template class h1_connection<tcp_stream_type>;
extern template class h1_connection<tls_stream_type>;

}  // namespace memgate::loadgen
