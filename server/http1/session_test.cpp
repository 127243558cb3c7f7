// HTTP/1.1 through the real server on loopback.
#include "metrics/counters.hpp"
#include "metrics/live_heap.hpp"
#include "testing/blocking_io.hpp"
#include "testing/test_server.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <thread>

namespace memgate::http1 {
namespace {

using metrics::counter;
using testing::http1_request;
using testing::pattern_string;
using testing::raw_exchange;
using testing::running_server;

server_config config_with(copy_strategy copy) {
  server_config config;
  config.threads = 2;
  config.copy = copy;
  return config;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++count;
  return count;
}

TEST(Http1, BothCopyStrategiesServeTheSameBytesAndOnlyBufferedCopies) {
  std::string bodies[2];
  std::int64_t copied[2];
  for (int i = 0; i < 2; ++i) {
    running_server server(config_with(i == 0 ? copy_strategy::writev : copy_strategy::buffered));
    const auto before = metrics::total(counter::bytes_copied);
    for (int request = 0; request < 3; ++request) {
      const auto reply = http1_request(server.port(), "GET", "/bytes/1048576");
      ASSERT_EQ(reply.status, 200u);
      bodies[i] = reply.body;
    }
    copied[i] = metrics::total(counter::bytes_copied) - before;
  }
  EXPECT_EQ(bodies[0], pattern_string(0, 1 << 20));
  EXPECT_EQ(bodies[0], bodies[1]);
  EXPECT_EQ(copied[0], 0);
  EXPECT_EQ(copied[1], 3 << 20);
}

TEST(Http1, StreamsChunkedUnderEveryStrategy) {
  for (auto copy : {copy_strategy::writev, copy_strategy::buffered}) {
    for (bool backpressure : {true, false}) {
      auto config = config_with(copy);
      config.no_backpressure = !backpressure;
      running_server server(config);
      const auto reply = http1_request(server.port(), "GET", "/stream/300000?chunk=7000");
      EXPECT_EQ(reply.status, 200u);
      EXPECT_TRUE(reply.chunked);
      EXPECT_EQ(reply.body, pattern_string(0, 300000)) << to_string(copy) << " backpressure " << backpressure;
    }
  }
}

// --no-backpressure pauses the producer at the queue cap and resumes it at half: every
// resume must keep the write chain going (it once stalled the response at the first resume).
TEST(Http1, NoBackpressureStreamOutlivesManyQueueCaps) {
  auto config = config_with(copy_strategy::writev);
  config.no_backpressure = true;
  config.limits.no_backpressure_queue_cap_bytes = 64 * 1024;
  config.limits.idle_timeout_ms = 2000;  // a stalled response then ends in a close, not a hang
  config.limits.send_timeout_ms = 2000;
  running_server server(config);
  const auto reply = http1_request(server.port(), "GET", "/stream/3000000?chunk=7000");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body.size(), 3'000'000u);
  EXPECT_EQ(reply.body, pattern_string(0, 3'000'000));
}

TEST(Http1, AllocationsAreChargedToH1) {
  running_server server(config_with(copy_strategy::buffered));
  const auto h1 = metrics::read_live_heap().h1.allocated_bytes, h2 = metrics::read_live_heap().h2.allocations;
  for (int request = 0; request < 3; ++request) ASSERT_EQ(http1_request(server.port(), "GET", "/bytes/100000").status, 200u);
  EXPECT_GE(metrics::read_live_heap().h1.allocated_bytes - h1, 3 * 100000);  // the buffered copies at least
  EXPECT_EQ(metrics::read_live_heap().h2.allocations, h2);
}

TEST(Http1, PipelinedRequestsAreAnsweredInOrder) {
  running_server server(config_with(copy_strategy::writev));
  const auto reply = raw_exchange(server.port(),
                                  "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /bytes/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(reply.closed_by_server);
  const auto first = reply.bytes.find("Content-Length: 3");
  const auto second = reply.bytes.find("404");
  const auto third = reply.bytes.find("Content-Length: 5");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  ASSERT_NE(third, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

TEST(Http1, UploadAnswersCountAndCrcUnderBothBodyStrategies) {
  const std::string body = pattern_string(0, 3'000'000);
  for (auto strategy : {request_body_strategy::streamed, request_body_strategy::buffered}) {
    auto config = config_with(copy_strategy::writev);
    config.request_body = strategy;
    running_server server(config);
    const auto reply = http1_request(server.port(), "POST", "/upload", body);
    ASSERT_EQ(reply.status, 200u);
    const auto json = boost::json::parse(reply.body).as_object();
    EXPECT_EQ(json.at("bytes").as_int64(), 3'000'000);
    EXPECT_EQ(json.at("crc32").as_int64(), 1534205190) << reply.body;  // zlib.crc32 of the pattern
  }
}

TEST(Http1, BufferedBodyPastTheLimitGets413AndClose) {
  auto config = config_with(copy_strategy::writev);
  config.request_body = request_body_strategy::buffered;
  config.limits.max_buffered_body_bytes = 100'000;
  running_server server(config);
  const auto reply = raw_exchange(server.port(), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
                                                     pattern_string(0, 200'000));
  EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 413", 0), 0u) << reply.bytes.substr(0, 80);
  EXPECT_TRUE(reply.closed_by_server);
}

TEST(Http1, MalformedRequestsGet400AndClose) {
  running_server server(config_with(copy_strategy::writev));
  for (const std::string bad : {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost x\r\n\r\n",
                                "POST /upload HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
                                "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n"}) {
    const auto reply = raw_exchange(server.port(), bad);
    EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 400", 0), 0u) << bad << " -> " << reply.bytes.substr(0, 60);
    EXPECT_TRUE(reply.closed_by_server) << bad;
  }
}

TEST(Http1, AmbiguousBodyLengthsAreRefusedAndNothingIsSmuggled) {
  running_server server(config_with(copy_strategy::writev));
  const std::string smuggled = "GET /bytes/7 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string cases[] = {
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n",
      "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n",
  };
  for (const auto& request : cases) {
    const auto reply = raw_exchange(server.port(), request + smuggled);
    EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 400", 0), 0u) << request << " -> " << reply.bytes.substr(0, 60);
    EXPECT_EQ(count_of(reply.bytes, "HTTP/1.1 "), 1u) << request;
    EXPECT_TRUE(reply.closed_by_server) << request;
  }
}

TEST(Http1, TooManyHeaderFieldsGet431) {
  running_server server(config_with(copy_strategy::writev));
  std::string request = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) request += "X-" + std::to_string(i) + ": 1\r\n";
  const auto reply = raw_exchange(server.port(), request + "\r\n");
  EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 431", 0), 0u) << reply.bytes.substr(0, 60);
  EXPECT_TRUE(reply.closed_by_server);
}

TEST(Http1, KeepAliveEndsAfterTheRequestLimit) {
  auto config = config_with(copy_strategy::writev);
  config.limits.max_requests_per_connection = 2;
  running_server server(config);
  const auto reply = raw_exchange(server.port(),
                                  "GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /bytes/2 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(count_of(reply.bytes, "HTTP/1.1 200"), 2u);
  EXPECT_EQ(count_of(reply.bytes, "Connection: close"), 1u);
  EXPECT_TRUE(reply.closed_by_server);
}

TEST(Http1, OversizedHeaderGets431AndClose) {
  auto config = config_with(copy_strategy::writev);
  config.limits.max_header_bytes = 2048;
  running_server server(config);
  const auto reply =
      raw_exchange(server.port(), "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 431", 0), 0u) << reply.bytes.substr(0, 60);
  EXPECT_TRUE(reply.closed_by_server);
}

// Beast keeps a field in 16-bit lengths: a header limit above 64 KiB must not let one field
// past them end the process (it did: std::length_error out of the parser, terminate).
TEST(Http1, AFieldPastBeastsLengthGets431WhenTheHeaderLimitAllowsIt) {
  auto config = config_with(copy_strategy::writev);
  config.limits.max_header_bytes = 1 << 20;
  running_server server(config);
  const auto reply = raw_exchange(server.port(),
                                  "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70'000, 'a') + "\r\n\r\n");
  EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 431", 0), 0u) << reply.bytes.substr(0, 60);
  EXPECT_TRUE(reply.closed_by_server);
  EXPECT_EQ(http1_request(server.port(), "GET", "/healthz").status, 200u);
}

TEST(Http1, IdleAndSlowHeaderConnectionsAreClosed) {
  auto config = config_with(copy_strategy::writev);
  config.limits.idle_timeout_ms = 200;
  config.limits.header_read_timeout_ms = 300;
  running_server server(config);
  const auto idle = raw_exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(3));
  EXPECT_EQ(count_of(idle.bytes, "HTTP/1.1 200"), 1u);
  EXPECT_TRUE(idle.closed_by_server);
  const auto slow = raw_exchange(server.port(), "GET /healthz HTTP/1.1\r\nHo", std::chrono::seconds(3));
  EXPECT_TRUE(slow.closed_by_server);
  EXPECT_TRUE(slow.bytes.empty());
}

TEST(Http1, MemAnswersEveryDocumentedField) {
  running_server server(config_with(copy_strategy::writev));
  ASSERT_EQ(http1_request(server.port(), "GET", "/bytes/100").status, 200u);
  for (const char* target : {"/mem", "/mem?trim=0"}) {
    // A request counts once its write completed, which the server may learn after the client read it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    boost::json::object mem;
    do {
      const auto reply = http1_request(server.port(), "GET", target);
      ASSERT_EQ(reply.status, 200u);
      mem = boost::json::parse(reply.body).as_object();
    } while (mem.at("requests").at("h1").as_int64() < 1 && std::chrono::steady_clock::now() < deadline);
    for (const char* field : {"allocator", "trimmed", "rss_before_trim_bytes", "rss_anon_before_trim_bytes",
                              "rss_bytes", "rss_anon_bytes", "vm_hwm_bytes", "live_heap_bytes", "allocations",
                              "deallocations", "allocated_bytes", "allocator_native", "requests", "connections",
                              "h2_streams_open", "h2_streams_reset_by_peer", "write_calls", "bytes_written",
                              "bytes_copied", "leaked_bytes", "config"}) {
      EXPECT_TRUE(mem.contains(field)) << field;
    }
    EXPECT_TRUE(mem.at("connections").as_object().contains("open"));
    EXPECT_TRUE(mem.at("config").as_object().contains("inject_leak_per_connection_bytes"));
    EXPECT_TRUE(mem.at("config").as_object().contains("inject_leak_per_reset_bytes"));
    EXPECT_EQ(mem.at("trimmed").as_bool(), std::string(target) == "/mem");
    EXPECT_GT(mem.at("rss_bytes").as_int64(), 0);
    EXPECT_GT(mem.at("live_heap_bytes").as_int64(), 0);
    EXPECT_GE(mem.at("requests").at("h1").as_int64(), 1);
  }
}

TEST(Http1, MemCountsTheConnectionsOpenNow) {
  running_server server(config_with(copy_strategy::writev));
  // Each sample asks on a connection of its own (counted), whose predecessor may still be closing.
  auto settles_at = [&](std::int64_t expected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::int64_t open = -1;
    while (open != expected && std::chrono::steady_clock::now() < deadline) {
      const auto mem = boost::json::parse(http1_request(server.port(), "GET", "/mem?trim=0").body);
      open = mem.at("connections").at("open").as_int64();
    }
    return open;
  };
  EXPECT_EQ(settles_at(1), 1);
  {
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::socket> idle;
    for (int i = 0; i < 3; ++i) {
      idle.push_back(testing::connect_loopback(io, server.port()));
    }
    EXPECT_EQ(settles_at(4), 4);
  }
  EXPECT_EQ(settles_at(1), 1);
}

TEST(Http1, InjectedLeakShowsInLiveHeap) {
#if defined(__SANITIZE_THREAD__)  // gcc's TSan build
  GTEST_SKIP() << "gcc's TSan runtime calls no malloc hook for aligned_alloc, only the free hook, so "
                  "live heap drifts down with Asio's aligned handler memory there";
#endif
  auto config = config_with(copy_strategy::writev);
  config.inject_leak_bytes = 10'000;
  running_server server(config);
  const auto before = metrics::read_live_heap().live_bytes;
  for (int i = 0; i < 50; ++i) ASSERT_EQ(http1_request(server.port(), "GET", "/bytes/10").status, 200u);
  EXPECT_GE(metrics::read_live_heap().live_bytes - before, 50 * 10'000);
  EXPECT_EQ(metrics::total(counter::leaked_bytes) >= 500'000, true);
}

// Polls `which` for up to 5 s until it has grown by `by` since `from` (the server counts on its own thread).
bool grows_to(counter which, std::int64_t from, std::int64_t by) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (metrics::total(which) - from < by && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return metrics::total(which) - from == by;
}

server_config leaking(std::size_t per_connection, std::size_t per_reset) {
  auto config = config_with(copy_strategy::writev);
  config.inject_leak_per_connection_bytes = per_connection;
  config.inject_leak_per_reset_bytes = per_reset;
  return config;
}

// A request whose response the client stops reading after `keep` bytes, then closes.
void abandon(std::uint16_t port, const std::string& target, std::size_t keep) {
  boost::asio::io_context io;
  auto socket = testing::connect_loopback(io, port);
  boost::system::error_code ec;
  testing::write_all(socket, boost::asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"), ec);
  ASSERT_FALSE(ec) << ec.message();
  std::vector<char> received(keep);
  testing::read_exactly(socket, boost::asio::buffer(received), ec);
  ASSERT_FALSE(ec) << ec.message();
}  // closed with the rest unread: the kernel resets the connection

TEST(Http1, APerConnectionLeakFiresOnceWhenTheConnectionCloses) {
  running_server server(leaking(1000, 0));
  const auto leaked = metrics::total(counter::leaked_bytes);
  const auto reply = raw_exchange(server.port(),
                                  "GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /bytes/20 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /bytes/30 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(count_of(reply.bytes, "HTTP/1.1 200"), 3u);  // three requests, one connection
  EXPECT_TRUE(grows_to(counter::leaked_bytes, leaked, 1000));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(http1_request(server.port(), "GET", "/bytes/10").status, 200u);
  EXPECT_TRUE(grows_to(counter::leaked_bytes, leaked, 5000));
}

TEST(Http1, AResponseTheClientAbandonsLeaksOncePerResponse) {
  running_server server(leaking(0, 1000));
  const auto leaked = metrics::total(counter::leaked_bytes);
  abandon(server.port(), "/bytes/100000000", 65536);
  EXPECT_TRUE(grows_to(counter::leaked_bytes, leaked, 1000));
  abandon(server.port(), "/stream/inf?chunk=65536", 65536);
  EXPECT_TRUE(grows_to(counter::leaked_bytes, leaked, 2000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(metrics::total(counter::leaked_bytes) - leaked, 2000);
}

TEST(Http1, CompletedResponsesAndSendTimeoutsDoNotLeakPerReset) {
  auto config = leaking(0, 1000);
  config.limits.send_timeout_ms = 200;
  running_server server(config);
  const auto leaked = metrics::total(counter::leaked_bytes);
  ASSERT_EQ(http1_request(server.port(), "GET", "/bytes/1000000").body.size(), 1'000'000u);
  ASSERT_EQ(http1_request(server.port(), "GET", "/stream/300000?chunk=7000").body.size(), 300'000u);
  // A client that stops reading is cut off by the send timeout: our doing, not an abandoned response.
  boost::asio::io_context io;
  auto stalled = testing::connect_loopback(io, server.port());
  boost::system::error_code ec;
  testing::write_all(stalled, boost::asio::buffer(std::string("GET /bytes/100000000 HTTP/1.1\r\nHost: x\r\n\r\n")), ec);
  ASSERT_FALSE(ec) << ec.message();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the server gives up at 200 ms, we close later
  stalled.close();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(metrics::total(counter::leaked_bytes) - leaked, 0);
}

}  // namespace
}  // namespace memgate::http1
