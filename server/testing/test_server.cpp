#include "testing/test_server.hpp"

#include "app/pattern.hpp"
#include "testing/blocking_io.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/system_error.hpp>

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
  tcp::socket socket = connect_loopback(io, port);
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.body() = body;
  request.prepare_payload();
  boost::system::error_code ec;
  http::request_serializer<http::string_body> serializer(request);
  do {
    http::write(socket, serializer, ec);
  } while (ec == net::error::interrupted);
  if (ec) throw boost::system::system_error(ec, "write request");
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  do {
    http::read(socket, buffer, parser, ec);
  } while (ec == net::error::interrupted);
  if (ec) throw boost::system::system_error(ec, "read response");
  const auto& response = parser.get();
  return {response.result_int(), response.body(), response.keep_alive(), response.chunked()};
}

raw_reply raw_exchange(std::uint16_t port, const std::string& request, std::chrono::milliseconds timeout) {
  net::io_context io;
  tcp::socket socket = connect_loopback(io, port);
  boost::system::error_code write_error;  // a server may answer and close before taking it all
  write_all(socket, net::buffer(request), write_error);
  raw_reply reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char chunk[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!wait_readable(socket, left)) break;
    boost::system::error_code ec;
    const std::size_t n = read_some(socket, net::buffer(chunk), ec);
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
