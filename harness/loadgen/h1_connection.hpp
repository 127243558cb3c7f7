// One HTTP/1.1 client connection: keep-alive, up to --pipeline requests written ahead,
// responses matched in order and checked piecewise as they arrive. --cancel-after-bytes
// closes the connection (h1's only way to abandon a response); the worker opens the next.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include "connection_base.hpp"
#include "plan.hpp"
#include "response_check.hpp"
#include "transport.hpp"

namespace memgate::loadgen {

// Why an h1 response could not be parsed (Beast's verdict: a bad status line, CL+TE, a bad
// chunk size, a header section past the parser's limit...), as the report says it.
std::string malformed_h1_message(boost::beast::error_code ec);

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
class h1_connection final : public connection_base<h1_connection<Stream>, Stream> {
 public:
  h1_connection(worker& w, std::size_t slot);
  void release() override;

 private:
  friend class connection_base<h1_connection, Stream>;

  struct in_flight {
    const request_template* req = nullptr;
    clock::time_point start;
    std::uint64_t body_offset = 0;  // upload bytes already handed to the writer
    bool head_queued = false;
  };

  static constexpr std::size_t max_read_bytes = 64 * 1024;

  // The protocol, as connection_base asks for it.
  static bool accepts_alpn(std::string_view selected) noexcept;
  void on_open();
  bool has_room() const noexcept { return count_ < ring_.size(); }
  void issue(std::uint64_t seq);
  void do_write();
  boost::asio::mutable_buffer read_space(std::size_t limit) { return read_buffer_.prepare(limit); }
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  template <class Record>
  void drop_in_flight(Record record) {
    // Only the head's response has begun to arrive.
    for (std::size_t i = 0; i < count_; ++i) record(i == 0 ? checker_.body_bytes() : 0);
    count_ = 0;
    written_ = 0;
  }

  bool parse_buffered();  // false when the connection ended
  void complete_head();
  void pop_head();
  bool cancel_due() const noexcept;
  void cancel_head();
  bool idle_and_finished() const noexcept;
  bool try_hold();

  in_flight& at(std::size_t i) noexcept { return ring_[(head_ + i) % ring_.size()]; }

  std::vector<in_flight> ring_;  // --pipeline entries, reused
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t written_ = 0;  // entries from head_ fully handed to the writer
  std::vector<boost::asio::const_buffer> write_buffers_;
  boost::beast::flat_buffer read_buffer_;
  response_checker checker_;
  std::optional<checking_parser> parser_;
};

extern template class h1_connection<tcp_stream_type>;
extern template class h1_connection<tls_stream_type>;

}  // namespace memgate::loadgen
