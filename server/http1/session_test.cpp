// HTTP/1.1 through the real server on loopback.
#include "metrics/counters.hpp"
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
    const auto reply = http1_request(server.port(), "GET", target);
    ASSERT_EQ(reply.status, 200u);
    const auto mem = boost::json::parse(reply.body).as_object();
    for (const char* field : {"allocator", "trimmed", "rss_before_trim_bytes", "rss_bytes", "rss_anon_bytes",
                              "vm_hwm_bytes", "live_heap_bytes", "allocations", "allocator_native", "requests",
                              "write_calls", "bytes_copied", "connections", "config"}) {
      EXPECT_TRUE(mem.contains(field)) << field;
    }
    EXPECT_EQ(mem.at("trimmed").as_bool(), std::string(target) == "/mem");
    EXPECT_GT(mem.at("rss_bytes").as_int64(), 0);
    EXPECT_GT(mem.at("live_heap_bytes").as_int64(), 0);
    EXPECT_GE(mem.at("requests").at("h1").as_int64(), 1);
  }
}

TEST(Http1, InjectedLeakShowsInLiveHeap) {
  auto config = config_with(copy_strategy::writev);
  config.inject_leak_bytes = 10'000;
  running_server server(config);
  const auto before = metrics::total(counter::live_heap_bytes);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(http1_request(server.port(), "GET", "/bytes/10").status, 200u);
  EXPECT_GE(metrics::total(counter::live_heap_bytes) - before, 50 * 10'000);
  EXPECT_EQ(metrics::total(counter::leaked_bytes) >= 500'000, true);
}

}  // namespace
}  // namespace memgate::http1
