// The blocking helpers under a signal storm: libFuzzer's -timeout alarm once killed the h1
// fuzz target through an interrupted blocking connect (EINTR escaped as an exception).
#include "testing/blocking_io.hpp"
#include "testing/test_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <sys/time.h>

namespace memgate::testing {
namespace {

std::atomic<int> alarms{0};

// SIGALRM every 100 us on this thread only, installed without SA_RESTART (as libFuzzer
// installs its alarm), so a blocking call it lands in fails with EINTR.
class alarm_storm {
 public:
  alarm_storm() {
    struct sigaction action {};
    action.sa_handler = [](int) { alarms.fetch_add(1, std::memory_order_relaxed); };
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, &previous_);
    const itimerval every{{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &every, nullptr);
  }
  ~alarm_storm() {
    const itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &previous_, nullptr);
  }

 private:
  struct sigaction previous_ {};
};

// The server's thread inherits the mask: it never sees the alarm, the client's calls do.
std::unique_ptr<running_server> server_without_alarms() {
  sigset_t alarm, previous;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &alarm, &previous);
  auto server = std::make_unique<running_server>(server_config{});
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return server;
}

TEST(BlockingIo, ClientCallsSurviveSignals) {
  const auto server = server_without_alarms();
  const auto before = alarms.load();
  const alarm_storm storm;
  for (int i = 0; i < 20; ++i) {
    const auto reply = http1_request(server->port(), "GET", "/bytes/1000000");
    ASSERT_EQ(reply.status, 200u);
    ASSERT_EQ(reply.body.size(), 1'000'000u);
    const auto raw = raw_exchange(server->port(), "GET /bytes/100000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(raw.closed_by_server);
    ASSERT_EQ(raw.bytes.rfind("HTTP/1.1 200", 0), 0u);
  }
  EXPECT_GT(alarms.load() - before, 20);  // the calls were interrupted, not merely lucky
}

// The fuzz target's crash-d8738846 (a terminate on "connect: Interrupted system call"), which
// no input reproduces: connects, and nothing else, while the alarm fires.
TEST(BlockingIo, ConnectsSurviveSignals) {
  const auto server = server_without_alarms();
  boost::asio::io_context io;
  const auto before = alarms.load();
  const alarm_storm storm;
  for (int i = 0; i < 500; ++i) {
    auto socket = connect_loopback(io, server->port());
    ASSERT_TRUE(socket.is_open());
  }
  EXPECT_GT(alarms.load() - before, 0);
}

}  // namespace
}  // namespace memgate::testing
