// Parsing the command line: one table of setters, then the checks between options. A little past
// ~400 lines: the checks read the state the setters fill, so they stay together; the help text
// is in usage.cpp.
#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "response_check.hpp"

namespace memgate::loadgen {
namespace {

using parse_result = boost::system::result<options, option_error>;
using maybe_error = std::optional<option_error>;

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

// --- reading the arguments: one setter per option, in groups (what to ask, how much load, how
// the client behaves on the wire, what it reports) ---

// What reading gathers besides the options: the checks after it need to know what was given.
struct parse_state {
  options o;
  std::optional<std::string> weights_text;
  std::optional<std::string> expect_length_text;
  bool have_protocol = false;
  bool have_requests = false;
  bool have_upload = false;
};

using value_setter = maybe_error (*)(parse_state&, const std::string& name, const std::string& value);

struct valued_option {
  std::string_view name;
  value_setter set;
};

struct flag_option {
  std::string_view name;
  bool options::*field;
};

template <auto Field, std::uint64_t Min>
maybe_error set_integer(parse_state& s, const std::string& name, const std::string& value) {
  const auto v = to_unsigned<std::remove_reference_t<decltype(s.o.*Field)>>(value);
  if (!v || *v < Min) return bad(name, value, "expected an integer >= " + std::to_string(Min));
  s.o.*Field = *v;
  return std::nullopt;
}

// What to ask: the target, its protocol and the requests' method and body.
maybe_error set_url(parse_state& s, const std::string&, const std::string& value) {
  auto u = parse_url(value);
  if (!u) return u.error();
  s.o.urls.push_back(std::move(*u));
  return std::nullopt;
}

maybe_error set_weights(parse_state& s, const std::string&, const std::string& value) {
  s.weights_text = value;  // read once every URL is known
  return std::nullopt;
}

maybe_error set_protocol(parse_state& s, const std::string& name, const std::string& value) {
  s.have_protocol = true;
  if (value == "h1") s.o.proto = protocol::h1;
  else if (value == "h2c") s.o.proto = protocol::h2c;
  else if (value == "h2-tls") s.o.proto = protocol::h2_tls;
  else return bad(name, value, "expected h1, h2c or h2-tls");
  return std::nullopt;
}

maybe_error set_method(parse_state& s, const std::string& name, const std::string& value) {
  if (value == "GET") s.o.method = http_method::get;
  else if (value == "POST") s.o.method = http_method::post;
  else return bad(name, value, "expected GET or POST");
  return std::nullopt;
}

maybe_error set_upload_bytes(parse_state& s, const std::string& name, const std::string& value) {
  s.have_upload = true;
  return set_integer<&options::upload_bytes, 0>(s, name, value);
}

maybe_error set_verify(parse_state& s, const std::string& name, const std::string& value) {
  if (value == "pattern") s.o.verify = verify_mode::pattern;
  else if (value == "status") s.o.verify = verify_mode::status;
  else if (value == "length") s.o.verify = verify_mode::length;
  else if (value == "digest") s.o.verify = verify_mode::digest;
  else return bad(name, value, "expected pattern, status, length or digest");
  return std::nullopt;
}

maybe_error set_expect_length(parse_state& s, const std::string&, const std::string& value) {
  s.expect_length_text = value;  // read once every URL is known
  return std::nullopt;
}

// How much load: requests, connections and their concurrency, pace and time limit.
maybe_error set_requests(parse_state& s, const std::string& name, const std::string& value) {
  s.have_requests = true;
  return set_integer<&options::requests, 1>(s, name, value);
}

maybe_error set_rate(parse_state& s, const std::string& name, const std::string& value) {
  const auto v = to_double(value);
  if (!v) return bad(name, value, "expected a number >= 0");
  s.o.rate = *v;
  return std::nullopt;
}

maybe_error set_time_limit(parse_state& s, const std::string& name, const std::string& value) {
  const auto v = to_double(value);
  if (!v || *v <= 0) return bad(name, value, "expected a number > 0");
  s.o.time_limit_s = *v;
  return std::nullopt;
}

// How the client behaves on the wire.
maybe_error set_window_bits(parse_state& s, const std::string& name, const std::string& value) {
  if (auto err = set_integer<&options::window_bits, 16>(s, name, value)) return err;
  if (s.o.window_bits > 30) return bad(name, value, "expected 16..30");
  return std::nullopt;
}

constexpr valued_option valued_options[] = {
    // what to ask
    {"--url", set_url},
    {"--weights", set_weights},
    {"--protocol", set_protocol},
    {"--method", set_method},
    {"--upload-bytes", set_upload_bytes},
    {"--verify", set_verify},
    {"--expect-length", set_expect_length},
    // how much load
    {"--requests", set_requests},
    {"--connections", set_integer<&options::connections, 1>},
    {"--streams", set_integer<&options::streams, 1>},
    {"--pipeline", set_integer<&options::pipeline, 1>},
    {"--requests-per-connection", set_integer<&options::requests_per_connection, 0>},
    {"--rate", set_rate},
    {"--time-limit-s", set_time_limit},
    {"--threads", set_integer<&options::threads, 1>},
    // how the client behaves on the wire
    {"--window-bits", set_window_bits},
    {"--cancel-after-bytes", set_integer<&options::cancel_after_bytes, 1>},
    {"--read-rate", set_integer<&options::read_rate_bytes_per_s, 1>},
    // what it reports
    {"--progress-ms", set_integer<&options::progress_ms, 0>},
};

constexpr flag_option flag_options[] = {
    {"--insecure", &options::insecure},
    {"--hold", &options::hold},
};

template <class Table>
const auto* find_option(const Table& table, std::string_view name) {
  const auto it = std::find_if(std::begin(table), std::end(table), [&](const auto& o) { return o.name == name; });
  return it == std::end(table) ? nullptr : &*it;
}

// Every argument after argv[0]: "--name value", "--name=value" or a flag.
maybe_error read_arguments(const std::vector<std::string>& args, parse_state& s) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (const auto* flag = find_option(flag_options, name)) {
      if (inline_value) return bad(name, *inline_value, "takes no value");
      s.o.*flag->field = true;
      continue;
    }
    const auto* option = find_option(valued_options, name);
    if (!option) return option_error{"unknown option '" + name + "'"};
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) return option_error{"missing value for " + name};
      value = args[++i];
    }
    if (auto err = option->set(s, name, value)) return err;
  }
  return std::nullopt;
}

// --- checks once every argument is read, in the order their rejections take precedence ---

maybe_error check_required(const parse_state& s) {
  if (s.o.urls.empty()) return option_error{"missing required option --url"};
  if (!s.have_protocol) return option_error{"missing required option --protocol"};
  if (!s.have_requests) return option_error{"missing required option --requests"};
  return std::nullopt;
}

// One origin for every URL, with the scheme its protocol needs.
maybe_error check_target(const options& o) {
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
  return std::nullopt;
}

// A comma-separated list of `name` with one item per URL: `take` is called with each item, in
// order, and adds it to `taken` or rejects it; then the count must match the URLs.
template <class T, class Take>
maybe_error take_per_url(std::string_view name, const std::string& text, std::string_view noun, std::size_t urls,
                         const std::vector<T>& taken, Take take) {
  for (std::string_view rest = text;;) {
    const auto comma = rest.find(',');
    if (auto err = take(rest.substr(0, comma))) return err;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (taken.size() != urls) {
    return bad(name, text,
               std::to_string(taken.size()) + " " + std::string(noun) + " for " + std::to_string(urls) + " URLs");
  }
  return std::nullopt;
}

// --weights, one per URL; without it every URL weighs 1.
maybe_error take_weights(parse_state& s) {
  options& o = s.o;
  if (!s.weights_text) {
    o.weights.assign(o.urls.size(), 1);
    return std::nullopt;
  }
  const std::string& text = *s.weights_text;
  constexpr std::uint64_t max_weight_total = 1'000'000;
  std::uint64_t weight_total = 0;
  return take_per_url("--weights", text, "weights", o.urls.size(), o.weights,
                      [&](std::string_view item) -> maybe_error {
                        const auto w = to_unsigned<std::uint32_t>(item);
                        if (!w || *w == 0 || *w > max_weight_total) {
                          return bad("--weights", text, "expected comma-separated integers >= 1");
                        }
                        weight_total += *w;
                        if (weight_total > max_weight_total) {
                          return bad("--weights", text, "weights must sum to at most 1000000");
                        }
                        o.weights.push_back(*w);
                        return std::nullopt;
                      });
}

// --expect-length, one body length per URL, required by --verify length and only there: a
// length derived from the first response is what --verify digest already checks (with the bytes).
maybe_error take_expect_lengths(parse_state& s) {
  options& o = s.o;
  if (o.verify != verify_mode::length) {
    if (s.expect_length_text) return bad("--expect-length", *s.expect_length_text, "needs --verify length");
    return std::nullopt;
  }
  if (!s.expect_length_text) {
    return bad("--verify", "length", "needs --expect-length N (the body length, one per URL, comma-separated)");
  }
  const std::string& text = *s.expect_length_text;
  return take_per_url("--expect-length", text, "lengths", o.urls.size(), o.expect_lengths,
                      [&](std::string_view item) -> maybe_error {
                        const auto n = to_unsigned<std::uint64_t>(item);
                        if (!n) return bad("--expect-length", text, "expected comma-separated integers >= 0");
                        o.expect_lengths.push_back(*n);
                        return std::nullopt;
                      });
}

// Options that apply to one method or protocol only.
maybe_error check_applicable(const parse_state& s) {
  const options& o = s.o;
  if (o.method == http_method::get && s.have_upload && o.upload_bytes > 0) {
    return bad("--upload-bytes", std::to_string(o.upload_bytes), "needs --method POST");
  }
  if (o.proto != protocol::h1 && o.pipeline != 1) {
    return bad("--pipeline", std::to_string(o.pipeline), "applies to h1 only");
  }
  if (o.proto == protocol::h1 && o.streams != 1) {
    return bad("--streams", std::to_string(o.streams), "applies to h2c and h2-tls only");
  }
  return std::nullopt;
}

maybe_error check_cancel_and_hold(const options& o) {
  const bool post = o.method == http_method::post;
  for (const auto& u : o.urls) {
    // Only the refserver's routes say that a body never ends.
    if (o.verify == verify_mode::pattern && o.cancel_after_bytes == 0 &&
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

maybe_error check_threads(const options& o) {
  if (o.threads > o.connections) {
    return bad("--threads", std::to_string(o.threads),
               "more threads than connections (" + std::to_string(o.connections) + ")");
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

const char* verify_mode_name(verify_mode v) noexcept {
  switch (v) {
    case verify_mode::pattern: return "pattern";
    case verify_mode::status: return "status";
    case verify_mode::length: return "length";
    case verify_mode::digest: return "digest";
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
  parse_state s;
  if (auto err = read_arguments(args, s)) return *err;
  if (auto err = check_required(s)) return *err;
  if (auto err = check_target(s.o)) return *err;
  if (auto err = take_weights(s)) return *err;
  if (auto err = take_expect_lengths(s)) return *err;
  if (auto err = check_applicable(s)) return *err;
  if (auto err = check_cancel_and_hold(s.o)) return *err;
  if (auto err = check_threads(s.o)) return *err;
  return std::move(s.o);
}

}  // namespace memgate::loadgen
