// Steady-state HTTP/1.1 requests allocate almost nothing: the parser's fields, the header
// block, the input buffer and the socket operations' memory are all reused per connection
// or per thread. The bound is a count, so it holds on a loaded machine; a change that adds
// an allocation per request fails it.
#include "metrics/live_heap.hpp"
#include "testing/blocking_io.hpp"
#include "testing/test_server.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <string>
#include <vector>

namespace memgate::http1 {
namespace {

constexpr double max_allocations_per_request = 1.0;

// A keep-alive connection that sends one GET at a time and reads exactly its response.
class keep_alive_client {
 public:
  keep_alive_client(boost::asio::io_context& io, std::uint16_t port) : socket_(testing::connect_loopback(io, port)) {}

  // The body's length; 0 with a failure recorded when the response is not a 200 with Content-Length.
  std::size_t get(const std::string& request) {
    boost::system::error_code ec;
    testing::write_all(socket_, boost::asio::buffer(request), ec);
    EXPECT_FALSE(ec) << ec.message();
    std::size_t received = 0, header_end = std::string::npos;
    while (!ec && header_end == std::string::npos) {
      received += testing::read_some(socket_, boost::asio::buffer(buffer_.data() + received, buffer_.size() - received), ec);
      header_end = std::string_view(buffer_.data(), received).find("\r\n\r\n");
    }
    const std::string_view header(buffer_.data(), header_end == std::string::npos ? received : header_end);
    EXPECT_TRUE(header.starts_with("HTTP/1.1 200 ")) << header;
    const auto at = header.find("Content-Length: ");
    if (ec || at == std::string_view::npos) return 0;
    std::size_t length = 0;
    std::from_chars(header.data() + at + 16, header.data() + header.size(), length);
    const std::size_t total = header_end + 4 + length;
    if (total > buffer_.size()) buffer_.resize(total);
    testing::read_exactly(socket_, boost::asio::buffer(buffer_.data() + received, total - received), ec);
    EXPECT_FALSE(ec) << ec.message();
    return length;
  }

 private:
  boost::asio::ip::tcp::socket socket_;
  std::vector<char> buffer_ = std::vector<char>(4096);
};

// Allocations made while h1 code ran, per request, over `rounds` requests on each of four
// keep-alive connections in turn, after as many rounds of warm-up.
double h1_allocations_per_request(std::uint16_t port, const std::string& target, int rounds) {
  boost::asio::io_context io;
  std::vector<keep_alive_client> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(io, port);
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: x\r\nUser-Agent: steady-state-test\r\n\r\n";
  auto run = [&] {
    for (int round = 0; round < rounds; ++round) {
      for (auto& client : clients) client.get(request);
    }
  };
  run();
  const auto before = metrics::read_live_heap().h1.allocations;
  run();
  return static_cast<double>(metrics::read_live_heap().h1.allocations - before) / (rounds * clients.size());
}

TEST(Http1SteadyState, BytesRequestsStayWithinTheAllocationBound) {
  server_config config;
  config.threads = 1;
  config.copy = copy_strategy::writev;
  testing::running_server server(config);
  for (const char* target : {"/bytes/1024", "/bytes/65536"}) {
    const double per_request = h1_allocations_per_request(server.port(), target, 100);
    EXPECT_LE(per_request, max_allocations_per_request) << target;
    RecordProperty(std::string("allocations_per_request") + target, std::to_string(per_request));
  }
}

}  // namespace
}  // namespace memgate::http1
