// Command-line options of loadgen: parsing and validation, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

namespace memgate::loadgen {

enum class protocol { h1, h2c, h2_tls };
enum class http_method { get, post };
// How responses are checked (--verify). pattern: the refserver's routes decide (see
// expectation_for); status: any 2xx; length: 2xx and --expect-length body bytes; digest: 2xx
// and every body of a URL equal (length and XXH64) to its first 2xx body.
enum class verify_mode { pattern, status, length, digest };

struct url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  std::uint16_t port = 0;
  std::string target;  // path and query, starts with '/'
};

struct options {
  std::vector<url> urls;
  std::vector<std::uint32_t> weights;  // one per URL
  protocol proto = protocol::h1;
  std::uint64_t requests = 0;
  std::uint32_t connections = 1;
  std::uint32_t streams = 1;
  std::uint32_t pipeline = 1;
  std::uint64_t requests_per_connection = 0;  // 0: unlimited keep-alive
  http_method method = http_method::get;
  std::uint64_t upload_bytes = 0;
  verify_mode verify = verify_mode::pattern;
  std::vector<std::uint64_t> expect_lengths;  // --verify length: one per URL
  double rate = 0;  // total requests/s, 0 = unlimited
  double time_limit_s = 300;
  std::uint32_t window_bits = 30;
  std::uint32_t threads = 1;
  std::uint32_t progress_ms = 0;
  bool insecure = false;
  std::uint64_t cancel_after_bytes = 0;     // 0: read every response to its end
  std::uint64_t read_rate_bytes_per_s = 0;  // per connection, 0 = unlimited
  bool hold = false;                        // keep connections idle after the last request until stdin closes

  bool tls() const noexcept { return urls.front().scheme == "https"; }
};

// A rejection: the message names the option and the bad value.
struct option_error {
  std::string message;
};

boost::system::result<url, option_error> parse_url(const std::string& text);

// Parses argv (argv[0] is skipped). Every rejection explains itself in option_error::message.
boost::system::result<options, option_error> parse_options(const std::vector<std::string>& args);

const char* protocol_name(protocol p) noexcept;
const char* verify_mode_name(verify_mode v) noexcept;

std::string usage();

}  // namespace memgate::loadgen
