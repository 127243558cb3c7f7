#include "http1/response_header.hpp"

#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <string>

namespace memgate::http1 {
namespace {
namespace http = boost::beast::http;

// What Beast's serializer writes for the same response, with the same Date.
std::string beast_header(const response_head& head, std::string_view date) {
  http::response<http::empty_body> message{static_cast<http::status>(head.status), head.version};
  message.set(http::field::server, "memgate-refserver");
  message.set(http::field::date, date);
  message.set(http::field::content_type, head.content_type);
  message.keep_alive(head.keep_alive);
  if (head.framing == body_framing::content_length) message.content_length(head.content_length);
  if (head.framing == body_framing::chunked) message.chunked(true);
  http::response_serializer<http::empty_body> serializer(message);
  serializer.split(true);
  std::string out;
  boost::beast::error_code ec;
  while (!serializer.is_header_done()) {
    serializer.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
      const auto size = boost::asio::buffer_size(buffers);
      const auto old = out.size();
      out.resize(old + size);
      boost::asio::buffer_copy(boost::asio::buffer(out.data() + old, size), buffers);
      serializer.consume(size);
    });
  }
  return out;
}

std::string_view date_of(std::string_view header) {
  const auto at = header.find("\r\nDate: ") + 8;
  return header.substr(at, header.find("\r\n", at) - at);
}

TEST(Http1ResponseHeader, WritesWhatBeastsSerializerWrote) {
  response_header header;
  for (unsigned status : {200u, 400u, 404u, 405u, 413u, 414u, 431u, 500u}) {
    for (unsigned version : {10u, 11u}) {
      for (bool keep_alive : {true, false}) {
        for (auto framing : {body_framing::content_length, body_framing::chunked, body_framing::close_delimited}) {
          const response_head head{.status = status,
                                   .content_type = "application/json",
                                   .version = version,
                                   .keep_alive = keep_alive,
                                   .framing = framing,
                                   .content_length = 12345};
          const std::string built(header.build(head));
          EXPECT_EQ(built, beast_header(head, date_of(built)));
        }
      }
    }
  }
}

TEST(Http1ResponseHeader, ReusesTheBlockAndRewritesOnlyTheDate) {
  response_header header;
  const response_head head{.content_type = "application/octet-stream", .content_length = 1024};
  const auto first = header.build(head);
  const auto data = first.data();
  const auto again = header.build(head);
  EXPECT_EQ(again.data(), data);
  EXPECT_EQ(date_of(again).size(), 29u);
  EXPECT_TRUE(date_of(again).ends_with(" GMT"));
  auto longer = head;
  longer.content_length = 1 << 20;
  EXPECT_NE(std::string(header.build(longer)).find("Content-Length: 1048576\r\n"), std::string::npos);
  EXPECT_EQ(header.bytes().find("Content-Length: 1024\r\n"), std::string::npos);
}

}  // namespace
}  // namespace memgate::http1
