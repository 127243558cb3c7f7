// End to end: --cancel-after-bytes, including endless /stream/inf responses.
#include "end_to_end_test.hpp"
#include "runner.hpp"

namespace memgate::loadgen {
namespace {

TEST(EndToEndCancel, H2ResetsEndlessStreamsAndReusesTheirSlots) {
  auto server = testing::start_h2c_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/stream/inf"), "--protocol", "h2c", "--requests", "12",
                                    "--streams", "3", "--cancel-after-bytes", "100000", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 12u);
  EXPECT_EQ(r.stats.cancelled, 12u);
  EXPECT_EQ(r.stats.failed, 0u);
  EXPECT_GE(r.stats.body_bytes_received, 12u * 100000);
  // Streams were reset, not the connection.
  EXPECT_EQ(r.stats.connections_opened, 1u);
  EXPECT_EQ(server->connections_accepted(), 1u);
  EXPECT_FALSE(r.stats.time_limit_hit);
  EXPECT_EQ(exit_code(r), 0);
}

TEST(EndToEndCancel, H1ClosesTheConnectionAndOpensAnother) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/stream/inf"), "--protocol", "h1", "--requests", "6",
                                    "--connections", "2", "--cancel-after-bytes", "100000", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 6u);
  EXPECT_EQ(r.stats.cancelled, 6u);
  EXPECT_EQ(r.stats.failed, 0u);
  EXPECT_GE(r.stats.body_bytes_received, 6u * 100000);
  // One connection per cancelled response (plus perhaps one that found no request left).
  EXPECT_GE(server->connections_accepted(), 6u);
  EXPECT_LE(server->connections_accepted(), 7u);
  EXPECT_EQ(exit_code(r), 0);
}

TEST(EndToEndCancel, ResponsesEndingBeforeTheLimitCompleteNormally) {
  for (const std::string proto : {"h1", "h2c"}) {
    auto server = proto == "h1" ? testing::start_h1_server() : testing::start_h2c_server();
    // 65536 ends exactly at the limit: complete, not cancelled.
    const auto r = run_load(parse_ok({"--url", url(server, "/bytes/5000"), "--url", url(server, "/bytes/65536"),
                                      "--url", url(server, "/stream/inf"), "--protocol", proto, "--requests", "9",
                                      "--cancel-after-bytes", "65536", "--time-limit-s", "20"}));
    EXPECT_EQ(r.stats.completed, 9u) << proto;
    EXPECT_EQ(r.stats.cancelled, 3u) << proto;
    EXPECT_EQ(r.stats.failed, 0u) << proto;
    EXPECT_GE(r.stats.body_bytes_received, 3u * 5000 + 3u * 65536 + 3u * 65536) << proto;
    // h1 reconnects after each cancellation while requests remain, and only then.
    if (proto == "h1") {
      EXPECT_EQ(server->connections_accepted(), 3u);
    }
  }
}

TEST(EndToEndCancel, WrongBytesBeforeTheLimitAreFailures) {
  for (const std::string proto : {"h1", "h2c"}) {
    auto server = proto == "h1" ? testing::start_h1_server() : testing::start_h2c_server();
    const auto r = run_load(parse_ok({"--url", url(server, "/stream/inf?corrupt"), "--url",
                                      url(server, "/stream/inf"), "--protocol", proto, "--requests", "6",
                                      "--cancel-after-bytes", "50000", "--time-limit-s", "20"}));
    EXPECT_EQ(failures_of(r, failure::body), 3u) << proto;
    EXPECT_EQ(r.stats.completed, 3u) << proto;
    EXPECT_EQ(r.stats.cancelled, 3u) << proto;
    EXPECT_EQ(exit_code(r), 1) << proto;
  }
}

}  // namespace
}  // namespace memgate::loadgen
