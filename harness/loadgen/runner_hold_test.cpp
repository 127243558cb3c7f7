// End to end: --hold keeps every connection open and idle until its release descriptor closes.
#include <unistd.h>

#include <future>
#include <thread>

#include "end_to_end_test.hpp"
#include "runner.hpp"

namespace memgate::loadgen {
namespace {

using namespace std::chrono_literals;

// A pipe standing in for loadgen's stdin: closing `write_end` releases the held connections.
struct release_pipe {
  int read_end = -1;
  int write_end = -1;
  release_pipe() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~release_pipe() {
    ::close(read_end);
    close_write_end();
  }
  void close_write_end() {
    if (write_end >= 0) ::close(write_end);
    write_end = -1;
  }
};

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 200 && !condition(); ++i) std::this_thread::sleep_for(10ms);
  return condition();
}

// Runs a --hold load in the background; the test sees the HOLDING moment and releases.
struct held_run {
  release_pipe release;
  std::promise<std::uint64_t> holding;
  int holding_calls = 0;
  std::future<run_report> report;

  explicit held_run(const options& opts) {
    hold_control hold;
    hold.release_fd = release.read_end;
    hold.on_holding = [this](std::uint64_t open) {
      if (++holding_calls == 1) holding.set_value(open);
    };
    report = std::async(std::launch::async, [opts, hold] { return run_load(opts, nullptr, hold); });
  }
  std::uint64_t wait_holding() {
    auto f = holding.get_future();
    EXPECT_EQ(f.wait_for(20s), std::future_status::ready);
    return f.get();
  }
};

void expect_held_then_released(const testing_servers& server, const std::string& proto,
                               std::uint32_t connections, std::uint64_t requests) {
  held_run run(parse_ok({"--url", url(server, "/bytes/1000"), "--protocol", proto, "--requests",
                         std::to_string(requests), "--connections", std::to_string(connections), "--hold",
                         "--time-limit-s", "30"}));
  EXPECT_EQ(run.wait_holding(), connections);
  EXPECT_EQ(server->connections_open(), connections);
  // Still open, idle, a while later: nothing closes a held connection but the release.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server->connections_open(), connections);
  run.release.close_write_end();
  const run_report r = run.report.get();

  EXPECT_EQ(run.holding_calls, 1);
  EXPECT_EQ(r.stats.completed, requests);
  EXPECT_EQ(r.stats.failed, 0u);
  EXPECT_EQ(r.stats.connections_held, connections);
  EXPECT_EQ(r.stats.held_connections_lost, 0u);
  // Every connection got a request: none was closed for want of one, none replaced.
  EXPECT_EQ(server->connections_accepted(), connections);
  EXPECT_GE(r.held_s, 0.2);
  // The rates' clock stops at the last response: neither the hold nor the closing counts.
  EXPECT_GT(r.requests_s, 0.0);
  EXPECT_LE(r.requests_s, r.elapsed_s - r.held_s);
  EXPECT_FALSE(r.stats.time_limit_hit);
  EXPECT_EQ(exit_code(r), 0);
  EXPECT_TRUE(eventually([&] { return server->connections_open() == 0; }));
}

TEST(EndToEndHold, H1HoldsEveryConnectionUntilReleased) {
  auto server = testing::start_h1_server();
  expect_held_then_released(server, "h1", 100, 110);
  EXPECT_EQ(server->goaways_received(), 0u);
}

TEST(EndToEndHold, H2cHoldsEveryConnectionAndSaysGoawayOnRelease) {
  auto server = testing::start_h2c_server();
  expect_held_then_released(server, "h2c", 40, 40);
  EXPECT_EQ(server->goaways_received(), 40u);
}

TEST(EndToEndHold, H2cCancelledStreamsThenHeld) {
  auto server = testing::start_h2c_server();
  held_run run(parse_ok({"--url", url(server, "/stream/inf"), "--protocol", "h2c", "--requests", "8",
                         "--connections", "4", "--streams", "2", "--cancel-after-bytes", "20000", "--hold",
                         "--time-limit-s", "30"}));
  EXPECT_EQ(run.wait_holding(), 4u);
  run.release.close_write_end();
  const run_report r = run.report.get();
  EXPECT_EQ(r.stats.cancelled, 8u);
  EXPECT_EQ(r.stats.connections_held, 4u);
  EXPECT_EQ(server->goaways_received(), 4u);
}

TEST(EndToEndHold, ConnectsArePacedAndAllConnectionsHeld) {
  auto server = testing::start_h1_server();
  held_run run(parse_ok({"--url", url(server, "/bytes/10"), "--protocol", "h1", "--requests", "300",
                         "--connections", "300", "--threads", "2", "--hold", "--time-limit-s", "30"}));
  EXPECT_EQ(run.wait_holding(), 300u);
  run.release.close_write_end();
  const run_report r = run.report.get();
  EXPECT_EQ(r.stats.connections_held, 300u);
  EXPECT_EQ(r.stats.completed, 300u);
  EXPECT_LE(r.stats.connects_in_flight_peak, 256u);
  EXPECT_GT(r.stats.connects_in_flight_peak, 0u);
}

TEST(EndToEndHold, TheTimeLimitEndsTheHold) {
  auto server = testing::start_h2c_server();
  held_run run(parse_ok({"--url", url(server, "/bytes/10"), "--protocol", "h2c", "--requests", "5",
                         "--connections", "5", "--hold", "--time-limit-s", "0.5"}));
  EXPECT_EQ(run.wait_holding(), 5u);
  const run_report r = run.report.get();  // never released
  EXPECT_TRUE(r.stats.time_limit_hit);
  EXPECT_EQ(r.stats.completed, 5u);
  EXPECT_EQ(r.stats.failed, 0u);
  EXPECT_EQ(r.stats.connections_held, 5u);
  EXPECT_LT(r.elapsed_s, 2.0);
  EXPECT_EQ(exit_code(r), 1);
}

}  // namespace
}  // namespace memgate::loadgen
