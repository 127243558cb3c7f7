// End to end: responses that break their protocol's message rules (RFC 9112 for h1, RFC 9113
// 8.1.1 for h2), each from a one-connection server that writes canned bytes, count as the
// "malformed" failure, and the report says what the first one broke.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <thread>

#include "end_to_end_test.hpp"
#include "runner.hpp"

namespace memgate::loadgen {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Accepts one connection, reads what the client sends first, writes `reply`, then reads until
// the client closes (an h2 client reads the reply before it goes), and closes.
class canned_server {
 public:
  explicit canned_server(std::string reply) : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, reply = std::move(reply)] {
      boost::system::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec) return;
      char buffer[4096];
      socket.read_some(asio::buffer(buffer), ec);
      asio::write(socket, asio::buffer(reply), ec);
      while (!ec) socket.read_some(asio::buffer(buffer), ec);
    });
  }
  ~canned_server() { thread_.join(); }
  canned_server(const canned_server&) = delete;
  canned_server& operator=(const canned_server&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/bytes/5"; }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

run_report one_request(const canned_server& server, const char* protocol) {
  return run_load(parse_ok({"--url", server.url(), "--protocol", protocol, "--requests", "1", "--connections", "1",
                            "--verify", "status", "--time-limit-s", "10"}));
}

void expect_malformed(const run_report& r, const std::string& says, const std::string& name) {
  EXPECT_EQ(r.stats.failed, 1u) << name;
  EXPECT_EQ(failures_of(r, failure::malformed), 1u) << name;
  const auto report = to_json(r);
  EXPECT_EQ(report.at("failures").at("malformed"), 1) << name;
  const auto& first = report.at("first_malformed");
  ASSERT_TRUE(first.is_string()) << name;
  EXPECT_NE(std::string(first.as_string()).find(says), std::string::npos) << name << ": " << first.as_string();
}

TEST(Malformed, H1ResponsesTheParserRefuses) {
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  const struct {
    const char* name;
    std::string reply;
    const char* says;
  } cases[] = {
      {"bad status line", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", "bad status"},
      {"bad version", "HTTP/9 200 OK\r\nContent-Length: 0\r\n\r\n", "bad version"},
      {"CL and TE", ok + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "RFC 9112"},
      {"two Content-Lengths", ok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "Content-Length"},
      {"bad chunk size", ok + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "bad chunk"},
      {"chunk size overflow", ok + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nhello\r\n", "bad chunk"},
      {"over-long header", ok + "X-Long: " + std::string(10'000, 'a') + "\r\nContent-Length: 0\r\n\r\n",
       "header limit"},
  };
  for (const auto& c : cases) {
    canned_server server(c.reply);
    expect_malformed(one_request(server, "h1"), c.says, c.name);
  }
}

std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, const std::string& payload) {
  std::string out;
  out += static_cast<char>(payload.size() >> 16);
  out += static_cast<char>(payload.size() >> 8);
  out += static_cast<char>(payload.size());
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(stream >> shift);
  return out + payload;
}

// HPACK: a literal field without indexing, its name a literal too (RFC 7541 6.2.2).
std::string literal(const std::string& name, const std::string& value) {
  return std::string(1, '\0') + static_cast<char>(name.size()) + name + static_cast<char>(value.size()) + value;
}
const std::string status_200 = "\x88";  // HPACK: static table entry 8

constexpr std::uint8_t data = 0, headers = 1, settings = 4;
constexpr std::uint8_t end_stream = 1, end_headers = 4, ack = 1;

std::string h2_reply(const std::string& response) {
  return frame(settings, 0, 0, "") + frame(settings, ack, 0, "") + response;
}

TEST(Malformed, H2ResponsesNghttp2Refuses) {
  const struct {
    const char* name;
    std::string reply;
    const char* says;
  } cases[] = {
      {"missing :status", frame(headers, end_headers | end_stream, 1, literal("server", "x")), "RFC 9113 8.1.1"},
      {"pseudo-header after a regular field",
       frame(headers, end_headers | end_stream, 1, literal("server", "x") + status_200), "RFC 9113 8.1.1"},
      {"uppercase field name", frame(headers, end_headers | end_stream, 1, status_200 + literal("X-Upper", "1")),
       "RFC 9113 8.1.1"},
      {"content-length above the DATA",
       frame(headers, end_headers, 1, status_200 + literal("content-length", "10")) +
           frame(data, end_stream, 1, "hello"),
       "content-length 10 (the stream was reset after 5 body bytes)"},
      {"content-length below the DATA",
       frame(headers, end_headers, 1, status_200 + literal("content-length", "3")) +
           frame(data, end_stream, 1, "hello"),
       "content-length 3 (the stream was reset after 0 body bytes)"},
  };
  for (const auto& c : cases) {
    canned_server server(h2_reply(c.reply));
    expect_malformed(one_request(server, "h2c"), c.says, c.name);
  }
}

TEST(Malformed, AWellFormedResponseIsNotMalformed) {
  canned_server h1("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  const auto r1 = one_request(h1, "h1");
  EXPECT_EQ(r1.stats.completed, 1u);
  EXPECT_TRUE(to_json(r1).at("first_malformed").is_null());
  canned_server h2(h2_reply(frame(headers, end_headers, 1, status_200 + literal("content-length", "5")) +
                            frame(data, end_stream, 1, "hello")));
  const auto r2 = one_request(h2, "h2c");
  EXPECT_EQ(r2.stats.completed, 1u);
  EXPECT_EQ(failures_of(r2, failure::malformed), 0u);
}

}  // namespace
}  // namespace memgate::loadgen
