#include "app/router.hpp"

#include <charconv>
#include <optional>

namespace memgate::app {
namespace {

constexpr std::size_t max_stream_chunk_bytes = 1 << 20;

std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// Value of `key` in a query string "a=1&b=2"; nullopt when absent.
std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

route_error bad(std::string reason) { return {400, std::move(reason)}; }

std::variant<route, route_error> sized(endpoint kind, std::string_view size_text, std::string_view query,
                                       const server_limits& limits) {
  route r;
  r.kind = kind;
  if (kind == endpoint::stream && size_text == "inf") {
    r.infinite = true;
  } else {
    auto size = parse_count(size_text);
    if (!size) return bad("body size '" + std::string(size_text) + "' is not a number");
    if (*size > limits.max_generated_body_bytes) {
      return bad("body size " + std::to_string(*size) + " exceeds the limit of " +
                 std::to_string(limits.max_generated_body_bytes) + " bytes");
    }
    r.length = *size;
  }
  if (kind == endpoint::stream) {
    if (auto chunk_text = query_value(query, "chunk")) {
      auto chunk = parse_count(*chunk_text);
      if (!chunk || *chunk == 0 || *chunk > max_stream_chunk_bytes) {
        return bad("chunk must be 1.." + std::to_string(max_stream_chunk_bytes) + " bytes");
      }
      r.chunk_bytes = *chunk;
    }
  }
  return r;
}

}  // namespace

std::variant<route, route_error> classify(std::string_view method, std::string_view target,
                                          const server_limits& limits) {
  const std::size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
  const bool is_get = method == "GET";

  auto require_get = [&](route r) -> std::variant<route, route_error> {
    if (!is_get) return route_error{405, "only GET is allowed on " + std::string(path)};
    return r;
  };

  if (path.starts_with("/bytes/")) {
    if (!is_get) return route_error{405, "only GET is allowed on /bytes/N"};
    return sized(endpoint::bytes, path.substr(7), query, limits);
  }
  if (path.starts_with("/stream/")) {
    if (!is_get) return route_error{405, "only GET is allowed on /stream/N"};
    return sized(endpoint::stream, path.substr(8), query, limits);
  }
  if (path == "/json") {
    route r{.kind = endpoint::json};
    if (auto items_text = query_value(query, "items")) {
      auto items = parse_count(*items_text);
      if (!items || *items > limits.max_json_items) {
        return bad("items must be 0.." + std::to_string(limits.max_json_items));
      }
      r.json_items = static_cast<std::size_t>(*items);
    }
    return require_get(r);
  }
  if (path == "/upload") {
    if (method != "POST" && method != "PUT") return route_error{405, "only POST or PUT is allowed on /upload"};
    return route{.kind = endpoint::upload};
  }
  if (path == "/mem") {
    route r{.kind = endpoint::mem};
    if (auto trim = query_value(query, "trim")) {
      if (*trim != "0" && *trim != "1") return bad("trim must be 0 or 1");
      r.trim = *trim == "1";
    }
    return require_get(r);
  }
  if (path == "/healthz") return require_get(route{.kind = endpoint::healthz});
  return route_error{404, "no endpoint at " + std::string(path)};
}

}  // namespace memgate::app
