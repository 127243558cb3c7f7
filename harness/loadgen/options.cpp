#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

#include "response_check.hpp"

namespace memgate::loadgen {
namespace {

using parse_result = boost::system::result<options, option_error>;

option_error bad(std::string_view opt, std::string_view value, std::string_view why) {
  return {std::string("invalid value '") + std::string(value) + "' for " + std::string(opt) + ": " +
          std::string(why)};
}

template <typename T>
std::optional<T> to_unsigned(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> to_double(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

std::string url_text(const url& u) { return u.scheme + "://" + u.host + ":" + std::to_string(u.port) + u.target; }

std::optional<option_error> check_cancel_and_hold(const options& o) {
  const bool post = o.method == http_method::post;
  for (const auto& u : o.urls) {
    if (o.cancel_after_bytes == 0 &&
        expectation_for(u.target, post, o.upload_bytes).what == body_expectation::kind::endless) {
      return bad("--url", url_text(u), "an endless response never completes; it needs --cancel-after-bytes");
    }
  }
  if (o.cancel_after_bytes > 0 && o.proto == protocol::h1 && o.pipeline > 1) {
    return bad("--pipeline", std::to_string(o.pipeline),
               "cannot be combined with --cancel-after-bytes: h1 cancels a response by closing its connection, "
               "which would lose the requests pipelined behind it");
  }
  if (!o.hold) return std::nullopt;
  if (o.requests < o.connections) {
    return bad("--requests", std::to_string(o.requests),
               "--hold needs at least one request per connection (--connections " + std::to_string(o.connections) +
                   ")");
  }
  if (o.requests_per_connection > 0) {
    return bad("--requests-per-connection", std::to_string(o.requests_per_connection),
               "cannot be combined with --hold: held connections are never replaced");
  }
  if (o.cancel_after_bytes > 0 && o.proto == protocol::h1) {
    return bad("--cancel-after-bytes", std::to_string(o.cancel_after_bytes),
               "with --hold needs h2c or h2-tls: h1 cancels by closing the connection, leaving nothing to hold");
  }
  return std::nullopt;
}

}  // namespace

const char* protocol_name(protocol p) noexcept {
  switch (p) {
    case protocol::h1: return "h1";
    case protocol::h2c: return "h2c";
    case protocol::h2_tls: return "h2-tls";
  }
  return "?";
}

boost::system::result<url, option_error> parse_url(const std::string& text) {
  const auto fail = [&](std::string_view why) { return bad("--url", text, why); };
  url u;
  std::string_view rest = text;
  const auto sep = rest.find("://");
  if (sep == std::string_view::npos) return fail("expected http://HOST:PORT/path or https://...");
  u.scheme = std::string(rest.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") return fail("scheme must be http or https");
  rest.remove_prefix(sep + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.target.find_first_of(" \r\n\t") != std::string::npos) return fail("target contains whitespace");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 literal");
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return fail("garbage after IPv6 literal");
      port_text = authority.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return fail("missing host");
  if (port_text.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    const auto port = to_unsigned<std::uint16_t>(port_text);
    if (!port || *port == 0) return fail("bad port");
    u.port = *port;
  }
  return u;
}

parse_result parse_options(const std::vector<std::string>& args) {
  options o;
  std::optional<std::string> weights_text;
  bool have_protocol = false;
  bool have_requests = false;
  bool have_upload = false;

  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "--insecure" || name == "--hold") {
      if (inline_value) return bad(name, *inline_value, "takes no value");
      (name == "--hold" ? o.hold : o.insecure) = true;
      continue;
    }
    static constexpr std::string_view valued[] = {
        "--url", "--weights", "--protocol", "--requests", "--connections", "--streams", "--pipeline",
        "--requests-per-connection", "--method", "--upload-bytes", "--rate", "--time-limit-s",
        "--window-bits", "--threads", "--progress-ms", "--cancel-after-bytes", "--read-rate"};
    if (std::find(std::begin(valued), std::end(valued), name) == std::end(valued)) {
      return option_error{"unknown option '" + name + "'"};
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) return option_error{"missing value for " + name};
      value = args[++i];
    }

    const auto uint32_opt = [&](std::uint32_t& out, std::uint32_t min) -> std::optional<option_error> {
      const auto v = to_unsigned<std::uint32_t>(value);
      if (!v || *v < min) return bad(name, value, "expected an integer >= " + std::to_string(min));
      out = *v;
      return std::nullopt;
    };
    const auto uint64_opt = [&](std::uint64_t& out, std::uint64_t min) -> std::optional<option_error> {
      const auto v = to_unsigned<std::uint64_t>(value);
      if (!v || *v < min) return bad(name, value, "expected an integer >= " + std::to_string(min));
      out = *v;
      return std::nullopt;
    };

    std::optional<option_error> err;
    if (name == "--url") {
      auto u = parse_url(value);
      if (!u) return u.error();
      o.urls.push_back(std::move(*u));
    } else if (name == "--weights") {
      weights_text = value;
    } else if (name == "--protocol") {
      have_protocol = true;
      if (value == "h1") o.proto = protocol::h1;
      else if (value == "h2c") o.proto = protocol::h2c;
      else if (value == "h2-tls") o.proto = protocol::h2_tls;
      else return bad(name, value, "expected h1, h2c or h2-tls");
    } else if (name == "--requests") {
      have_requests = true;
      err = uint64_opt(o.requests, 1);
    } else if (name == "--connections") {
      err = uint32_opt(o.connections, 1);
    } else if (name == "--streams") {
      err = uint32_opt(o.streams, 1);
    } else if (name == "--pipeline") {
      err = uint32_opt(o.pipeline, 1);
    } else if (name == "--requests-per-connection") {
      err = uint64_opt(o.requests_per_connection, 0);
    } else if (name == "--method") {
      if (value == "GET") o.method = http_method::get;
      else if (value == "POST") o.method = http_method::post;
      else return bad(name, value, "expected GET or POST");
    } else if (name == "--upload-bytes") {
      have_upload = true;
      err = uint64_opt(o.upload_bytes, 0);
    } else if (name == "--rate") {
      const auto v = to_double(value);
      if (!v) return bad(name, value, "expected a number >= 0");
      o.rate = *v;
    } else if (name == "--time-limit-s") {
      const auto v = to_double(value);
      if (!v || *v <= 0) return bad(name, value, "expected a number > 0");
      o.time_limit_s = *v;
    } else if (name == "--window-bits") {
      err = uint32_opt(o.window_bits, 16);
      if (!err && o.window_bits > 30) return bad(name, value, "expected 16..30");
    } else if (name == "--threads") {
      err = uint32_opt(o.threads, 1);
    } else if (name == "--progress-ms") {
      err = uint32_opt(o.progress_ms, 0);
    } else if (name == "--cancel-after-bytes") {
      err = uint64_opt(o.cancel_after_bytes, 1);
    } else if (name == "--read-rate") {
      err = uint64_opt(o.read_rate_bytes_per_s, 1);
    } else {
      return option_error{"unknown option '" + name + "'"};
    }
    if (err) return *err;
  }

  if (o.urls.empty()) return option_error{"missing required option --url"};
  if (!have_protocol) return option_error{"missing required option --protocol"};
  if (!have_requests) return option_error{"missing required option --requests"};

  const url& first = o.urls.front();
  for (const auto& u : o.urls) {
    if (u.scheme != first.scheme || u.host != first.host || u.port != first.port) {
      return bad("--url", url_text(u), "all URLs must share scheme, host and port");
    }
  }
  if (o.proto == protocol::h2c && first.scheme != "http") {
    return bad("--protocol", "h2c", "needs http:// URLs (got " + first.scheme + "://)");
  }
  if (o.proto == protocol::h2_tls && first.scheme != "https") {
    return bad("--protocol", "h2-tls", "needs https:// URLs (got " + first.scheme + "://)");
  }

  if (weights_text) {
    constexpr std::uint64_t max_weight_total = 1'000'000;
    std::uint64_t weight_total = 0;
    std::string_view rest = *weights_text;
    while (true) {
      const auto comma = rest.find(',');
      const auto item = rest.substr(0, comma);
      const auto w = to_unsigned<std::uint32_t>(item);
      if (!w || *w == 0 || *w > max_weight_total) {
        return bad("--weights", *weights_text, "expected comma-separated integers >= 1");
      }
      weight_total += *w;
      if (weight_total > max_weight_total) {
        return bad("--weights", *weights_text, "weights must sum to at most 1000000");
      }
      o.weights.push_back(*w);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (o.weights.size() != o.urls.size()) {
      return bad("--weights", *weights_text,
                 std::to_string(o.weights.size()) + " weights for " + std::to_string(o.urls.size()) + " URLs");
    }
  } else {
    o.weights.assign(o.urls.size(), 1);
  }

  if (o.method == http_method::get && have_upload && o.upload_bytes > 0) {
    return bad("--upload-bytes", std::to_string(o.upload_bytes), "needs --method POST");
  }
  if (o.proto != protocol::h1 && o.pipeline != 1) {
    return bad("--pipeline", std::to_string(o.pipeline), "applies to h1 only");
  }
  if (o.proto == protocol::h1 && o.streams != 1) {
    return bad("--streams", std::to_string(o.streams), "applies to h2c and h2-tls only");
  }
  if (auto err = check_cancel_and_hold(o)) return *err;
  if (o.threads > o.connections) {
    return bad("--threads", std::to_string(o.threads),
               "more threads than connections (" + std::to_string(o.connections) + ")");
  }
  return o;
}

std::string usage() {
  return "usage: loadgen --url URL [--url URL ...] [--weights 3,1] --protocol h1|h2c|h2-tls\n"
         "               --requests N [--connections C] [--streams S] [--pipeline D]\n"
         "               [--requests-per-connection R] [--method GET|POST] [--upload-bytes B]\n"
         "               [--rate R] [--time-limit-s T] [--window-bits 16..30] [--threads T]\n"
         "               [--progress-ms MS] [--insecure] [--cancel-after-bytes N]\n"
         "               [--read-rate BYTES_PER_S] [--hold]\n"
         "\n"
         "  --cancel-after-bytes N   abandon each response once N body bytes arrived (h2: RST_STREAM\n"
         "                           CANCEL; h1: close the connection); needed for /stream/inf\n"
         "  --read-rate BYTES_PER_S  read at most this many bytes per second per connection, so the\n"
         "                           server meets TCP backpressure\n"
         "  --hold                   after the last request keep every connection open and idle, print\n"
         "                           'HOLDING <n>' to stderr, close them once stdin reaches EOF\n";
}

}  // namespace memgate::loadgen
