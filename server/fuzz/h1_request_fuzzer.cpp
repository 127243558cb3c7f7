// libFuzzer target: the server's HTTP/1.1 session (http1::session, the code the server
// runs) on a loopback TCP connection, pipelining included.
//
// Input: one control byte, then what the client sends; the client then shuts down its
// sending side and reads (and discards) everything until the server closes.
// Control byte bits:
//   bit 0: --copy=buffered (else writev)      bit 1: --no-backpressure
//   bit 2: --request-body=buffered            bits 3-7: write the input in pieces of this size
// The client hangs up after 8 MiB; a connection the server does not close within 10 s of the
// client's EOF aborts (a session that holds a connection open forever is a bug).
// The session runs over boost::beast::tcp_stream (transport::plain_stream) because that is
// the stream type the server instantiates it with; a loopback socket pair costs a few
// syscalls per input.
#include "config/config.hpp"
#include "fuzz/fuzz_config.hpp"
#include "http1/session.hpp"
#include "testing/blocking_io.hpp"
#include "testing/session_services.hpp"
#include "transport/connection_slot.hpp"
#include "transport/streams.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/system_error.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace {

using namespace memgate;
namespace net = boost::asio;
using tcp = net::ip::tcp;

server_config make_config(std::uint8_t control) {
  server_config config = fuzz::config_from_control(control);
  config.limits.header_read_timeout_ms = 500;
  config.limits.idle_timeout_ms = 500;
  config.limits.send_timeout_ms = 500;
  return config;
}

struct loopback {
  net::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(net::ip::address_v4::loopback(), 0)};
};

// Past this the client hangs up, as a client that got enough of /stream/inf would.
constexpr std::uint64_t max_received_bytes = 8u << 20;
// The session's timeouts are 500 ms here, its linger 1 s: a connection still open after this
// long, with the client's side shut, is a session that does not close (reported as a crash).
constexpr auto close_deadline = std::chrono::seconds(10);

struct client {
  tcp::socket socket;
  const std::vector<std::uint8_t>& input;
  std::size_t piece;
  std::size_t written = 0;
  std::array<char, 64 * 1024> sink{};
  std::uint64_t received = 0;
  bool read_done = false;

  void write_next() {
    if (written == input.size()) {
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    const std::size_t n = std::min(piece, input.size() - written);
    net::async_write(socket, net::buffer(input.data() + written, n), [this, n](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      written += n;
      write_next();
    });
  }
  void read_next() {
    socket.async_read_some(net::buffer(sink), [this](boost::system::error_code ec, std::size_t n) {
      received += n;
      if (!ec && received <= max_received_bytes) return read_next();
      // The server closed, or sends without end (/stream/inf): hang up.
      read_done = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    });
  }
};

void run_input(const std::uint8_t* data, std::size_t size) {
  static const bool verbose = std::getenv("MEMGATE_FUZZ_VERBOSE") != nullptr;
  static loopback* net_state = new loopback;  // lives for the process
  auto& io = net_state->io;
  const std::uint8_t control = data[0];
  const std::vector<std::uint8_t> input(data + 1, data + size);
  const std::size_t piece = (control >> 3) == 0 ? input.size() + 1 : (control >> 3);

  testing::session_services app(make_config(control), io);

  client c{tcp::socket(io), input, piece};
  testing::connect(c.socket, net_state->acceptor.local_endpoint());
  boost::system::error_code accept_error;
  tcp::socket accepted = testing::accept(net_state->acceptor, accept_error);
  if (accept_error) throw boost::system::system_error(accept_error, "accept");
  http1::start_session(transport::plain_stream(std::move(accepted)), boost::beast::flat_buffer{},
                       transport::connection_slot{}, app.services, app.strategies);
  c.write_next();
  c.read_next();
  // Done when the server closes (the client's read ends, nothing else is pending).
  const auto start = std::chrono::steady_clock::now();
  io.run_for(close_deadline);
  if (verbose) {
    std::fprintf(stderr, "h1_request: %zu bytes written, %llu received, %lld ms\n", c.written,
                 static_cast<unsigned long long>(c.received),
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - start).count()));
  }
  if (!c.read_done) {
    std::fprintf(stderr, "h1_request: the server kept the connection open %lld s after the client's EOF\n",
                 static_cast<long long>(close_deadline.count()));
    std::abort();
  }
  boost::system::error_code ignored;
  c.socket.close(ignored);
  io.restart();
  io.run_for(std::chrono::seconds(2));
  io.restart();
}

}  // namespace

// An exception is a finding only when the session threw it: the harness's own calls retry
// interruptions (testing/blocking_io.hpp) and report other failures here, not as a crash.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  try {
    run_input(data, size);
  } catch (const boost::system::system_error& error) {
    std::fprintf(stderr, "h1_request: harness socket call failed, input skipped: %s\n", error.what());
  }
  return 0;
}
