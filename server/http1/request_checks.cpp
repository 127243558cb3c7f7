#include "http1/request_checks.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <iterator>

namespace memgate::http1 {
namespace http = boost::beast::http;

namespace {

// RFC 3986 reg-name: unreserved / pct-encoded / sub-delims (the '%' is checked loosely:
// a host is only compared, never decoded here).
bool reg_name_char(char c) {
  static constexpr std::string_view others = "-._~%!$&'()*+,;=";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         others.find(c) != std::string_view::npos;
}

bool ip_literal_char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool token_char(char c) {
  static constexpr std::string_view others = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         others.find(c) != std::string_view::npos;
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Calls on_coding(name, has_parameters) for each transfer-coding of a field value (RFC 9112
// 7: token *( OWS ";" OWS parameter ), in a list that may hold empty elements); false when
// a coding is not a token.
template <typename OnCoding>
bool for_each_coding(std::string_view value, OnCoding on_coding) {
  while (true) {
    const auto comma = value.find(',');
    const auto element = trim_ows(value.substr(0, comma));
    if (!element.empty()) {
      const auto semicolon = element.find(';');
      const auto name = trim_ows(element.substr(0, semicolon));
      if (name.empty() || !std::all_of(name.begin(), name.end(), token_char)) return false;
      on_coding(name, semicolon != std::string_view::npos);
    }
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

std::optional<request_rejection> check_transfer_coding(const request_head& header) {
  // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
  if (header.version() < 11) return request_rejection{400, "Transfer-Encoding in an HTTP/1.0 request"};
  // Every coding, in order: chunked once and last (6.3: else the length is unknown), and
  // nothing else, since the server decodes no other coding (6.1: 501).
  std::size_t codings = 0;
  std::size_t chunked_at = 0;
  bool chunked_twice = false;
  bool unknown = false;
  const auto [first, end] = header.equal_range(http::field::transfer_encoding);
  for (auto field = first; field != end; ++field) {
    const bool well_formed = for_each_coding(field->value(), [&](std::string_view coding, bool has_parameters) {
      ++codings;
      // chunked takes no parameters: "chunked;q=1" is some other coding.
      if (boost::beast::iequals(coding, "chunked") && !has_parameters) {
        chunked_twice = chunked_twice || chunked_at != 0;
        chunked_at = codings;
      } else {
        unknown = true;
      }
    });
    if (!well_formed) return request_rejection{400, "a malformed Transfer-Encoding"};
  }
  if (chunked_at == 0 || chunked_at != codings) return request_rejection{400, "Transfer-Encoding does not end in chunked"};
  if (chunked_twice) return request_rejection{400, "chunked applied more than once"};
  if (unknown) return request_rejection{501, "a transfer coding other than chunked"};
  return std::nullopt;
}

}  // namespace

std::string_view origin_form(std::string_view target) {
  const auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos || target.substr(0, scheme_end).find('/') != std::string_view::npos) {
    return target;
  }
  const auto scheme = target.substr(0, scheme_end);
  if (!boost::beast::iequals(scheme, "http") && !boost::beast::iequals(scheme, "https")) return target;
  const auto path = target.find('/', scheme_end + 3);
  return path == std::string_view::npos ? std::string_view("/") : target.substr(path);
}

bool expects_continue(const request_head& header) {
  if (header.version() < 11) return false;  // RFC 9110 10.1.1: ignored in HTTP/1.0
  const auto [first, end] = header.equal_range(http::field::expect);
  for (auto field = first; field != end; ++field) {
    if (boost::beast::iequals(field->value(), "100-continue")) return true;
  }
  return false;
}

bool valid_host(std::string_view host) {
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    const auto literal = host.substr(1, close - 1);
    if (!std::all_of(literal.begin(), literal.end(), ip_literal_char)) return false;
    const auto rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    const auto colon = host.rfind(':');
    const auto name = host.substr(0, colon);
    if (colon != std::string_view::npos) port = host.substr(colon + 1);
    if (!std::all_of(name.begin(), name.end(), reg_name_char)) return false;
  }
  return all_digits(port);
}

// The request line is not a field: whitespace after it is Beast's own "bad field".
bool has_obs_fold(std::string_view raw_header) {
  for (auto at = raw_header.find("\r\n"); at != std::string_view::npos; at = raw_header.find("\r\n", at + 2)) {
    if (at + 2 < raw_header.size() && (raw_header[at + 2] == ' ' || raw_header[at + 2] == '\t')) return true;
  }
  return false;
}

std::optional<request_rejection> check_request_header(const request_head& header,
                                                      std::size_t max_header_fields) {
  const auto fields = static_cast<std::size_t>(std::distance(header.begin(), header.end()));
  if (fields > max_header_fields) {
    return request_rejection{431, std::to_string(fields) + " header fields exceed the limit of " +
                                      std::to_string(max_header_fields)};
  }
  // RFC 9112 3.2: exactly one valid Host in HTTP/1.1, never two in any version.
  const auto hosts = header.count(http::field::host);
  if (hosts > 1) return request_rejection{400, "more than one Host"};
  if (hosts == 0 && header.version() >= 11) return request_rejection{400, "an HTTP/1.1 request without Host"};
  if (hosts == 1 && !valid_host(header[http::field::host])) return request_rejection{400, "an invalid Host"};
  const auto transfer_encodings = header.count(http::field::transfer_encoding);
  const auto content_lengths = header.count(http::field::content_length);
  if (transfer_encodings > 0 && content_lengths > 0) {
    return request_rejection{400, "both Content-Length and Transfer-Encoding: the body length is ambiguous"};
  }
  if (content_lengths > 1) {
    return request_rejection{400, "more than one Content-Length"};
  }
  if (transfer_encodings > 0) return check_transfer_coding(header);
  return std::nullopt;
}

}  // namespace memgate::http1
