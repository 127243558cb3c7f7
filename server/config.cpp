#include "config.hpp"

#include <boost/program_options.hpp>

#include <sstream>
#include <thread>

namespace memgate {
namespace po = boost::program_options;

const char* to_string(copy_strategy value) { return value == copy_strategy::writev ? "writev" : "buffered"; }
const char* to_string(request_body_strategy value) {
  return value == request_body_strategy::streamed ? "streamed" : "buffered";
}
const char* to_string(json_mode value) { return value == json_mode::built ? "built" : "cached"; }

namespace {

template <typename Enum>
Enum pick(const std::string& option, const std::string& value, std::initializer_list<Enum> choices) {
  std::string known;
  for (Enum choice : choices) {
    if (value == to_string(choice)) return choice;
    known += known.empty() ? "" : "|";
    known += to_string(choice);
  }
  throw po::error("--" + option + "=" + value + ": expected one of " + known);
}

void require_positive(const po::variables_map& vm, const char* option) {
  if (vm.count(option) && vm[option].as<std::uint64_t>() == 0) {
    throw po::error(std::string("--") + option + " must be greater than 0");
  }
}

}  // namespace

parsed_args parse_args(const std::vector<std::string>& args) {
  server_config config;
  server_limits& lim = config.limits;
  std::string copy = "writev", request_body = "streamed", json = "built";
  std::uint64_t port = 0, threads = std::max(1u, std::thread::hardware_concurrency());
  std::uint64_t max_header_bytes = lim.max_header_bytes, max_buffered_body = lim.max_buffered_body_bytes;
  std::uint64_t max_header_fields = lim.max_header_fields;
  std::uint64_t header_timeout = lim.header_read_timeout_ms, idle_timeout = lim.idle_timeout_ms;
  std::uint64_t send_timeout = lim.send_timeout_ms, max_streams = lim.max_concurrent_streams;
  std::uint64_t max_header_list = lim.max_header_list_bytes, max_connections = lim.max_connections;
  std::uint64_t grace = lim.shutdown_grace_ms;
  std::uint64_t max_requests = lim.max_requests_per_connection;

  po::options_description options("refserver options");
  options.add_options()
      ("help,h", "print this help")
      ("host", po::value(&config.host)->default_value(config.host), "address to listen on")
      ("port", po::value(&port)->default_value(port), "port to listen on; 0 picks a free one")
      ("threads", po::value(&threads)->default_value(threads), "event-loop threads")
      ("copy", po::value(&copy)->default_value(copy), "response copy strategy: writev|buffered")
      ("request-body", po::value(&request_body)->default_value(request_body), "request bodies: streamed|buffered")
      ("json", po::value(&json)->default_value(json), "/json documents: built per request | cached")
      ("inject-leak", po::value(&config.inject_leak_bytes)->default_value(0), "leak this many heap bytes per request")
      ("no-backpressure", po::bool_switch(&config.no_backpressure), "/stream queues chunks without waiting for the socket")
      ("tls-cert", po::value(&config.tls_cert_path), "PEM certificate chain; enables TLS with ALPN h2,http/1.1")
      ("tls-key", po::value(&config.tls_key_path), "PEM private key")
      ("max-header-bytes", po::value(&max_header_bytes)->default_value(max_header_bytes), "h1 header section limit (431)")
      ("max-header-fields", po::value(&max_header_fields)->default_value(max_header_fields), "h1 header fields (431)")
      ("max-buffered-body-bytes", po::value(&max_buffered_body)->default_value(max_buffered_body), "buffered request body limit (413)")
      ("header-timeout-ms", po::value(&header_timeout)->default_value(header_timeout), "time to receive a request header")
      ("idle-timeout-ms", po::value(&idle_timeout)->default_value(idle_timeout), "keep-alive idle timeout")
      ("send-timeout-ms", po::value(&send_timeout)->default_value(send_timeout), "time a write may stall")
      ("max-concurrent-streams", po::value(&max_streams)->default_value(max_streams), "h2 SETTINGS_MAX_CONCURRENT_STREAMS")
      ("max-header-list-bytes", po::value(&max_header_list)->default_value(max_header_list), "h2 SETTINGS_MAX_HEADER_LIST_SIZE")
      ("max-connections", po::value(&max_connections)->default_value(max_connections), "open connections at most")
      ("max-requests-per-connection", po::value(&max_requests)->default_value(max_requests),
       "h1 keep-alive requests on one connection, then Connection: close")
      ("shutdown-grace-ms", po::value(&grace)->default_value(grace), "SIGTERM: time in-flight responses get");

  try {
    po::variables_map vm;
    std::vector<std::string> argv(args.begin(), args.end());
    po::store(po::command_line_parser(argv).options(options).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << options;
      return {std::nullopt, text.str(), 0};
    }
    for (const char* option : {"threads", "max-header-bytes", "max-header-fields", "max-buffered-body-bytes", "header-timeout-ms",
                               "idle-timeout-ms", "send-timeout-ms", "max-concurrent-streams",
                               "max-header-list-bytes", "max-connections", "max-requests-per-connection"}) {
      require_positive(vm, option);
    }
    if (port > 65535) throw po::error("--port=" + std::to_string(port) + ": must be 0..65535");
    if (threads > 256) throw po::error("--threads=" + std::to_string(threads) + ": at most 256");
    if (config.tls_cert_path.empty() != config.tls_key_path.empty()) {
      throw po::error("--tls-cert and --tls-key go together");
    }
    config.port = static_cast<std::uint16_t>(port);
    config.threads = static_cast<unsigned>(threads);
    config.copy = pick(std::string("copy"), copy, {copy_strategy::writev, copy_strategy::buffered});
    config.request_body =
        pick(std::string("request-body"), request_body, {request_body_strategy::streamed, request_body_strategy::buffered});
    config.json = pick(std::string("json"), json, {json_mode::built, json_mode::cached});
    lim.max_header_bytes = max_header_bytes;
    lim.max_header_fields = max_header_fields;
    lim.max_buffered_body_bytes = max_buffered_body;
    lim.header_read_timeout_ms = static_cast<std::uint32_t>(header_timeout);
    lim.idle_timeout_ms = static_cast<std::uint32_t>(idle_timeout);
    lim.send_timeout_ms = static_cast<std::uint32_t>(send_timeout);
    lim.max_concurrent_streams = static_cast<std::uint32_t>(max_streams);
    lim.max_header_list_bytes = static_cast<std::uint32_t>(max_header_list);
    lim.max_connections = static_cast<std::uint32_t>(max_connections);
    lim.shutdown_grace_ms = static_cast<std::uint32_t>(grace);
    lim.max_requests_per_connection = max_requests;
  } catch (const po::error& e) {
    return {std::nullopt, std::string("refserver: ") + e.what() + " (see --help)", 2};
  }
  return {config, {}, 0};
}

}  // namespace memgate
