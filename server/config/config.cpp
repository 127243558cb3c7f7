#include "config/config.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <thread>

namespace memgate {
namespace po = boost::program_options;

const char* to_string(copy_strategy value) { return value == copy_strategy::writev ? "writev" : "buffered"; }
const char* to_string(request_body_strategy value) {
  return value == request_body_strategy::streamed ? "streamed" : "buffered";
}
const char* to_string(json_mode value) { return value == json_mode::built ? "built" : "cached"; }
const char* to_string(leak_via value) { return value == leak_via::new_operator ? "new" : "malloc"; }

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

// A limit flag bound straight to its field; every limit must be a positive whole number.
class limit_flags {
 public:
  explicit limit_flags(po::options_description& options) : options_(options) {}

  template <typename Field>
  limit_flags& add(const char* name, Field& field, const char* help) {
    options_.add_options()(name, po::value(&field)->default_value(field), help);
    names_.emplace_back(name);
    return *this;
  }

  // po::value<unsigned> would read "-1" as the largest value: check the words as typed.
  void check(const po::parsed_options& parsed) const {
    for (const auto& option : parsed.options) {
      if (std::find(names_.begin(), names_.end(), option.string_key) == names_.end()) continue;
      for (const auto& word : option.value) {
        const bool digits = !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) { return std::isdigit(c); });
        if (!digits || std::all_of(word.begin(), word.end(), [](char c) { return c == '0'; })) {
          throw po::error("--" + option.string_key + "=" + word + ": expected a whole number greater than 0");
        }
      }
    }
  }

 private:
  po::options_description& options_;
  std::vector<std::string> names_;
};

}  // namespace

parsed_args parse_args(const std::vector<std::string>& args) {
  server_config config;
  server_limits& lim = config.limits;
  std::string copy = "writev", request_body = "streamed", json = "built", via = "new";
  std::uint64_t port = 0, threads = std::max(1u, std::thread::hardware_concurrency());

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
      ("inject-leak-per-connection", po::value(&config.inject_leak_per_connection_bytes)->default_value(0),
       "leak this many heap bytes per h1/h2 connection, when it closes")
      ("inject-leak-per-reset", po::value(&config.inject_leak_per_reset_bytes)->default_value(0),
       "leak this many heap bytes per response the client abandons (h2 RST_STREAM, h1 close mid-response)")
      ("inject-hold-per-stream", po::value(&config.inject_hold_per_stream_bytes)->default_value(0),
       "hold this many touched heap bytes per request in flight (h1 request, h2 stream, upload) until it ends")
      ("inject-leak-via", po::value(&via)->default_value(via),
       "how --inject-leak* and --inject-hold-per-stream allocate: new|malloc")
      ("inject-copy", po::value(&config.inject_copy_bytes)->default_value(0),
       "copy this many body bytes per request into a fresh buffer (counted in bytes_copied)")
      ("no-backpressure", po::bool_switch(&config.no_backpressure), "/stream queues chunks without waiting for the socket")
      ("tls-cert", po::value(&config.tls_cert_path), "PEM certificate chain; enables TLS with ALPN h2,http/1.1")
      ("tls-key", po::value(&config.tls_key_path), "PEM private key");
  limit_flags limits(options);
  limits.add("max-header-bytes", lim.max_header_bytes, "h1 header section (431)")
      .add("max-header-fields", lim.max_header_fields, "header fields, h1 and h2 (431)")
      .add("max-buffered-body-bytes", lim.max_buffered_body_bytes, "buffered request body (413)")
      .add("header-timeout-ms", lim.header_read_timeout_ms, "time to receive a request header")
      .add("idle-timeout-ms", lim.idle_timeout_ms, "keep-alive idle timeout")
      .add("send-timeout-ms", lim.send_timeout_ms, "time one write may stall")
      .add("max-concurrent-streams", lim.max_concurrent_streams, "h2 SETTINGS_MAX_CONCURRENT_STREAMS")
      .add("max-header-list-bytes", lim.max_header_list_bytes, "h2 SETTINGS_MAX_HEADER_LIST_SIZE, enforced (431)")
      .add("max-connections", lim.max_connections, "open connections at most")
      .add("max-requests-per-connection", lim.max_requests_per_connection,
           "h1 keep-alive requests on one connection, then Connection: close")
      .add("shutdown-grace-ms", lim.shutdown_grace_ms, "SIGTERM: time in-flight responses get")
      .add("h2-stream-window-bytes", lim.h2_stream_window_bytes, "h2 SETTINGS_INITIAL_WINDOW_SIZE")
      .add("h2-connection-window-bytes", lim.h2_connection_window_bytes, "h2 connection receive window")
      .add("h2-max-outbound-acks", lim.h2_max_outbound_acks, "queued SETTINGS/PING ACKs before the peer is cut off")
      .add("h2-max-queued-frames", lim.h2_max_queued_frames,
           "frames queued while our write is stalled, then the connection is closed (keep above the stream limit)")
      .add("h2-max-settings-entries", lim.h2_max_settings_entries, "entries in one SETTINGS frame")
      .add("h2-max-continuations", lim.h2_max_continuations, "CONTINUATION frames per header block")
      .add("h2-reset-burst", lim.h2_reset_burst, "RST_STREAM token bucket size")
      .add("h2-resets-per-second", lim.h2_resets_per_second, "RST_STREAM token refill rate")
      .add("h2-max-oversized-header-lists", lim.h2_max_oversized_header_lists,
           "streams reset for an oversized header list before GOAWAY ENHANCE_YOUR_CALM")
      .add("h2-useless-frame-budget", lim.h2_useless_frame_budget,
           "PRIORITY, empty DATA, early resets and refused streams before GOAWAY ENHANCE_YOUR_CALM");

  try {
    po::variables_map vm;
    std::vector<std::string> argv(args.begin(), args.end());
    const auto parsed = po::command_line_parser(argv).options(options).run();
    po::store(parsed, vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << options;
      return {std::nullopt, text.str(), 0};
    }
    limits.check(parsed);
    if (threads == 0) throw po::error("--threads must be greater than 0");
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
    config.inject_leak_via = pick(std::string("inject-leak-via"), via, {leak_via::new_operator, leak_via::malloc});
  } catch (const po::error& e) {
    return {std::nullopt, std::string("refserver: ") + e.what() + " (see --help)", 2};
  }
  return {config, {}, 0};
}

}  // namespace memgate
