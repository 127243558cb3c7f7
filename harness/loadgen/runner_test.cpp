// End to end: run_load() against tiny in-process servers (test_servers.hpp).
#include "end_to_end_test.hpp"
#include "runner.hpp"

namespace memgate::loadgen {
namespace {

TEST(EndToEndH1, PatternBodiesWithPipeliningAndMix) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/100000"), "--url", url(server, "/stream/3000"),
                                    "--weights", "3,1", "--protocol", "h1", "--requests", "200", "--connections",
                                    "3", "--pipeline", "4", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 200u);
  EXPECT_EQ(r.stats.failed, 0u);
  EXPECT_EQ(r.stats.completed_h1, 200u);
  EXPECT_EQ(r.stats.body_bytes_received, 150u * 100000 + 50u * 3000);
  EXPECT_EQ(r.stats.connections_opened, 3u);
  EXPECT_GT(r.stats.bytes_received, r.stats.body_bytes_received);
  EXPECT_EQ(r.stats.latency_ns.count(), 200u);
  EXPECT_FALSE(r.stats.time_limit_hit);
  EXPECT_EQ(exit_code(r), 0);
}

TEST(EndToEndH1, WrongBodiesAndStatusesAreCounted) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/5000?corrupt"), "--url",
                                    url(server, "/bytes/5000?short"), "--url", url(server, "/status/503"), "--url",
                                    url(server, "/bytes/5000"), "--protocol", "h1", "--requests", "40",
                                    "--pipeline", "2", "--time-limit-s", "20"}));
  EXPECT_EQ(failures_of(r, failure::body), 10u);
  EXPECT_EQ(failures_of(r, failure::length), 10u);
  EXPECT_EQ(failures_of(r, failure::status), 10u);
  EXPECT_EQ(r.stats.completed, 10u);
  EXPECT_EQ(r.stats.failed, 30u);
  EXPECT_EQ(exit_code(r), 1);
}

TEST(EndToEndH1, UploadsAndReconnects) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/upload"), "--url", url(server, "/upload?badcrc"),
                                    "--weights", "3,1", "--protocol", "h1", "--method", "POST", "--upload-bytes",
                                    "200000", "--requests", "20", "--requests-per-connection", "5",
                                    "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 15u);
  EXPECT_EQ(failures_of(r, failure::upload_check), 5u);
  EXPECT_EQ(r.stats.connections_opened, 4u);
  EXPECT_EQ(server->connections_accepted(), 4u);
  EXPECT_GE(r.stats.bytes_sent, 20u * 200000);
}

TEST(EndToEndH1, ServerClosingIsNotAFailure) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/close"), "--protocol", "h1", "--requests", "6",
                                    "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 6u);
  EXPECT_EQ(r.stats.connections_opened, 6u);
}

TEST(EndToEndH1, ConnectFailuresEndTheRun) {
  std::uint16_t dead_port = 0;
  {
    auto server = testing::start_h1_server();
    dead_port = server->port();
  }
  const auto r = run_load(parse_ok({"--url", "http://127.0.0.1:" + std::to_string(dead_port) + "/bytes/1",
                                    "--protocol", "h1", "--requests", "5", "--connections", "2",
                                    "--time-limit-s", "20"}));
  EXPECT_EQ(failures_of(r, failure::connect), 5u);
  EXPECT_EQ(r.stats.completed, 0u);
  // Each of the 2 connections tries 5 times; the first to give up ends the run, so the
  // requests never handed out fail at once instead of each paying for its own retries.
  EXPECT_EQ(r.stats.connect_retries, 2u * 4);
  EXPECT_EQ(exit_code(r), 1);
}

TEST(EndToEndH1, RefusedConnectsAreRetriedUntilTheListenerListens) {
  // Attempts at 0, 20, 60, 140 and 300 ms: listening at 100 ms, the fourth gets through.
  auto server = testing::start_h1_server(std::chrono::milliseconds(100));
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/10"), "--protocol", "h1", "--requests", "4",
                                    "--connections", "2", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 4u);
  EXPECT_EQ(failures_of(r, failure::connect), 0u);
  EXPECT_GE(r.stats.connect_retries, 2u * 3);
  EXPECT_EQ(server->connections_accepted(), 2u);
}

TEST(EndToEndH2c, PatternBodiesOnConcurrentStreams) {
  auto server = testing::start_h2c_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/70000"), "--url", url(server, "/bytes/10"),
                                    "--protocol", "h2c", "--requests", "300", "--connections", "2", "--streams",
                                    "8", "--threads", "2", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 300u);
  EXPECT_EQ(r.stats.failed, 0u);
  EXPECT_EQ(r.stats.completed_h2, 300u);
  EXPECT_EQ(r.stats.body_bytes_received, 150u * 70000 + 150u * 10);
  EXPECT_EQ(r.stats.connections_opened, 2u);
  EXPECT_EQ(exit_code(r), 0);
}

TEST(EndToEndH2c, WrongBodiesAndUploads) {
  auto server = testing::start_h2c_server();
  auto r = run_load(parse_ok({"--url", url(server, "/bytes/40000?corrupt"), "--url",
                              url(server, "/bytes/40000?short"), "--url", url(server, "/status/404"), "--url",
                              url(server, "/bytes/40000"), "--protocol", "h2c", "--requests", "40", "--streams",
                              "4", "--time-limit-s", "20"}));
  EXPECT_EQ(failures_of(r, failure::body), 10u);
  EXPECT_EQ(failures_of(r, failure::length), 10u);
  EXPECT_EQ(failures_of(r, failure::status), 10u);
  EXPECT_EQ(r.stats.completed, 10u);

  r = run_load(parse_ok({"--url", url(server, "/upload"), "--url", url(server, "/upload?badcrc"), "--protocol",
                         "h2c", "--method", "POST", "--upload-bytes", "150000", "--requests", "10", "--streams",
                         "3", "--requests-per-connection", "4", "--window-bits", "16", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 5u);
  EXPECT_EQ(failures_of(r, failure::upload_check), 5u);
  EXPECT_EQ(r.stats.connections_opened, 3u);
}

std::string tls_url(const testing_servers& s, const std::string& target) {
  return "https://localhost:" + std::to_string(s->port()) + target;
}

TEST(EndToEndTls, H2OverTlsWithAlpn) {
  auto server = testing::start_tls_server("h2");
  const auto r = run_load(parse_ok({"--url", tls_url(server, "/bytes/50000"), "--url",
                                    tls_url(server, "/bytes/50000?corrupt"), "--weights", "4,1", "--protocol",
                                    "h2-tls", "--requests", "50", "--streams", "4", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 40u);
  EXPECT_EQ(failures_of(r, failure::body), 10u);
  EXPECT_EQ(r.stats.completed_h2, 40u);
  EXPECT_EQ(r.stats.connections_opened, 1u);
}

TEST(EndToEndTls, H1OverTls) {
  auto server = testing::start_tls_server("http/1.1");
  const auto r = run_load(parse_ok({"--url", tls_url(server, "/stream/30000"), "--protocol", "h1", "--requests",
                                    "30", "--pipeline", "3", "--connections", "2", "--time-limit-s", "20"}));
  EXPECT_EQ(r.stats.completed, 30u);
  EXPECT_EQ(r.stats.failed, 0u);
}

TEST(EndToEndTls, AlpnWithoutH2IsATlsFailure) {
  auto server = testing::start_tls_server("http/1.1");  // will not acknowledge "h2"
  const auto r = run_load(parse_ok({"--url", tls_url(server, "/bytes/10"), "--protocol", "h2-tls", "--requests",
                                    "3", "--time-limit-s", "20"}));
  EXPECT_EQ(failures_of(r, failure::tls), 3u);
  EXPECT_EQ(r.stats.completed, 0u);
  EXPECT_EQ(exit_code(r), 1);
}

// A ticket not yet due waits on its connection's rate timer, then goes out: on either protocol
// every request completes, the last no sooner than it was due.
TEST(EndToEnd, RateSpreadsTheRequestsOnBothProtocols) {
  const auto h1_server = testing::start_h1_server();
  const auto h2c_server = testing::start_h2c_server();
  for (const auto& [server, proto] : {std::pair{&h1_server, "h1"}, std::pair{&h2c_server, "h2c"}}) {
    const auto r = run_load(parse_ok({"--url", url(*server, "/bytes/10"), "--protocol", proto, "--requests", "20",
                                      "--connections", "2", "--rate", "100", "--time-limit-s", "20"}));
    EXPECT_EQ(r.stats.completed, 20u) << proto;
    EXPECT_EQ(r.stats.failed, 0u) << proto;
    EXPECT_GE(r.requests_s, 0.19) << proto;  // the 20th ticket is due 19/100 s after the start
    EXPECT_LT(r.elapsed_s, 5.0) << proto;
  }
}

TEST(EndToEnd, TimeLimitStopsAndReports) {
  auto server = testing::start_h1_server();
  const auto r = run_load(parse_ok({"--url", url(server, "/bytes/10"), "--protocol", "h1", "--requests",
                                    "1000000", "--rate", "20", "--time-limit-s", "0.3"}));
  EXPECT_TRUE(r.stats.time_limit_hit);
  EXPECT_LT(r.stats.completed, 20u);
  EXPECT_GE(r.stats.completed, 3u);
  EXPECT_LT(r.elapsed_s, 2.0);
  EXPECT_EQ(exit_code(r), 1);
}

}  // namespace
}  // namespace memgate::loadgen
