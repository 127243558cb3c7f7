#include "testing/blocking_io.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <poll.h>

#include <cerrno>

namespace memgate::testing {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

bool interrupted(const error_code& ec) { return ec == net::error::interrupted; }

}  // namespace

void connect(tcp::socket& socket, const tcp::endpoint& to) {
  auto& io = static_cast<net::io_context&>(socket.get_executor().context());
  error_code result = net::error::in_progress;
  socket.async_connect(to, [&result](error_code ec) { result = ec; });
  io.restart();
  while (result == net::error::in_progress) io.run_one();
  io.restart();
  if (result) throw boost::system::system_error(result, "connect");
}

tcp::socket connect_loopback(net::io_context& io, std::uint16_t port) {
  tcp::socket socket(io);
  connect(socket, {net::ip::address_v4::loopback(), port});
  return socket;
}

tcp::socket accept(tcp::acceptor& acceptor, error_code& ec) {
  for (;;) {
    tcp::socket socket = acceptor.accept(ec);
    if (!interrupted(ec)) return socket;
  }
}

std::size_t read_some(tcp::socket& socket, net::mutable_buffer into, error_code& ec) {
  for (;;) {
    const std::size_t n = socket.read_some(into, ec);
    if (!interrupted(ec)) return n;
  }
}

std::size_t read_exactly(tcp::socket& socket, net::mutable_buffer into, error_code& ec) {
  std::size_t total = 0;
  while (total < into.size()) {
    total += read_some(socket, into + total, ec);
    if (ec) break;
  }
  return total;
}

std::size_t write_all(tcp::socket& socket, net::const_buffer bytes, error_code& ec) {
  std::size_t total = 0;
  while (total < bytes.size()) {
    const std::size_t n = socket.write_some(bytes + total, ec);
    total += n;
    if (ec && !interrupted(ec)) break;
    ec = {};
  }
  return total;
}

bool wait_readable(tcp::socket& socket, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{socket.native_handle(), POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

}  // namespace memgate::testing
