#include "testing/test_server.hpp"

#include "app/pattern.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <poll.h>

namespace memgate::testing {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

running_server::running_server(server_config config) : config_(std::move(config)) {
  config_.port = 0;
  server_ = std::make_unique<server>(config_);
  port_ = server_->local_endpoint().port();
  thread_ = std::thread([this] { server_->run(); });
}

running_server::~running_server() {
  server_->stop();
  thread_.join();
}

http_reply http1_request(std::uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  http::read(socket, buffer, parser);
  const auto& response = parser.get();
  return {response.result_int(), response.body(), response.keep_alive(), response.chunked()};
}

raw_reply raw_exchange(std::uint16_t port, const std::string& request, std::chrono::milliseconds timeout) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  boost::system::error_code write_error;  // a server may answer and close before taking it all
  net::write(socket, net::buffer(request), write_error);
  raw_reply reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char chunk[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fd{socket.native_handle(), POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) break;
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(net::buffer(chunk), ec);
    if (ec) {
      reply.closed_by_server = true;
      break;
    }
    reply.bytes.append(chunk, n);
  }
  return reply;
}

std::string pattern_string(std::uint64_t offset, std::size_t length) {
  std::string out;
  while (out.size() < length) {
    const auto slice = app::pattern_slice(offset + out.size(), length - out.size());
    out.append(reinterpret_cast<const char*>(slice.data()), slice.size());
  }
  return out;
}

}  // namespace memgate::testing
