// The HTTP/2 adapter over loopback: what only a real socket and clock show.
#include "metrics/counters.hpp"
#include "metrics/live_heap.hpp"
#include "testing/blocking_io.hpp"
#include "testing/h2_frames.hpp"
#include "testing/test_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <sys/socket.h>

#include <thread>

namespace memgate::http2 {
namespace {

using testing::h2_serialize;
using testing::running_server;

TEST(Http2Connection, AnIdleConnectionGetsGoawayNoErrorThenClose) {
  server_config config;
  config.limits.idle_timeout_ms = 300;
  running_server server(config);
  const auto started = std::chrono::steady_clock::now();
  const auto reply = testing::raw_exchange(server.port(), testing::h2_client_preface(), std::chrono::seconds(3));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(reply.closed_by_server);
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  const auto frames = testing::h2_parse(reply.bytes);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().type, NGHTTP2_GOAWAY);
  EXPECT_EQ(frames.back().error_code(), static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
}

TEST(Http2Connection, APerConnectionLeakFiresOnceWhenAnH2cConnectionCloses) {
  server_config config;
  config.inject_leak_per_connection_bytes = 1000;
  config.limits.idle_timeout_ms = 100;
  running_server server(config);
  const auto leaked = metrics::total(metrics::counter::leaked_bytes);
  const std::string request = testing::h2_client_preface() +
                              h2_serialize(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
                                           testing::h2_request_block("GET", "/bytes/100"));
  for (int i = 0; i < 2; ++i) {
    const auto reply = testing::raw_exchange(server.port(), request, std::chrono::seconds(2));
    ASSERT_TRUE(reply.closed_by_server);  // the idle timeout ended it
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto leaked_since = [&] { return metrics::total(metrics::counter::leaked_bytes) - leaked; };
  while (leaked_since() < 2000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(leaked_since(), 2000);
}

TEST(Http2Connection, AllocationsAreChargedToH2) {
  server_config config;
  config.copy = copy_strategy::buffered;
  config.limits.idle_timeout_ms = 100;
  running_server server(config);
  const auto h2 = metrics::read_live_heap().h2.allocated_bytes;
  const auto h1 = metrics::read_live_heap().h1.allocations;
  const std::string request = testing::h2_client_preface() +
                              h2_serialize(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
                                           testing::h2_request_block("GET", "/bytes/50000"));  // within the initial window
  const auto reply = testing::raw_exchange(server.port(), request, std::chrono::seconds(2));
  ASSERT_GT(reply.bytes.size(), 50000u);
  EXPECT_GE(metrics::read_live_heap().h2.allocated_bytes - h2, 50000);  // the buffered copy at least
  EXPECT_EQ(metrics::read_live_heap().h1.allocations, h1);
}

TEST(Http2Connection, APingFloodFromAPeerThatDoesNotReadIsCutOffBeforeTheSendTimeout) {
  server_config config;
  config.limits.send_timeout_ms = 30'000;
  running_server server(config);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.open(boost::asio::ip::tcp::v4());
  socket.set_option(boost::asio::socket_base::receive_buffer_size(4096));
  const timeval send_timeout{5, 0};  // a server that stops reading fails the test instead of hanging it
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  testing::connect(socket, {boost::asio::ip::make_address("127.0.0.1"), server.port()});
  boost::system::error_code ec;
  testing::write_all(socket, boost::asio::buffer(testing::h2_client_preface()), ec);
  ASSERT_FALSE(ec) << ec.message();
  std::string pings;
  for (int i = 0; i < 1000; ++i) pings += h2_serialize(NGHTTP2_PING, 0, 0, "12345678");
  const auto started = std::chrono::steady_clock::now();
  for (int batch = 0; batch < 10'000 && !ec; ++batch) testing::write_all(socket, boost::asio::buffer(pings), ec);
  EXPECT_TRUE(ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

}  // namespace
}  // namespace memgate::http2
