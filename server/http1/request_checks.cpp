#include "http1/request_checks.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <iterator>

namespace memgate::http1 {
namespace http = boost::beast::http;

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

bool expects_continue(const http::request_header<>& header) {
  if (header.version() < 11) return false;  // RFC 9110 10.1.1: ignored in HTTP/1.0
  const auto [first, end] = header.equal_range(http::field::expect);
  for (auto field = first; field != end; ++field) {
    if (boost::beast::iequals(field->value(), "100-continue")) return true;
  }
  return false;
}

std::optional<request_rejection> check_request_header(const http::request_header<>& header,
                                                      std::size_t max_header_fields) {
  const auto fields = static_cast<std::size_t>(std::distance(header.begin(), header.end()));
  if (fields > max_header_fields) {
    return request_rejection{431, std::to_string(fields) + " header fields exceed the limit of " +
                                      std::to_string(max_header_fields)};
  }
  // RFC 9112 3.2: exactly one Host in HTTP/1.1, never two in any version.
  const auto hosts = header.count(http::field::host);
  if (hosts > 1) return request_rejection{400, "more than one Host"};
  if (hosts == 0 && header.version() >= 11) return request_rejection{400, "an HTTP/1.1 request without Host"};
  const auto transfer_encodings = header.count(http::field::transfer_encoding);
  const auto content_lengths = header.count(http::field::content_length);
  if (transfer_encodings > 0 && content_lengths > 0) {
    return request_rejection{400, "both Content-Length and Transfer-Encoding: the body length is ambiguous"};
  }
  if (content_lengths > 1) {
    return request_rejection{400, "more than one Content-Length"};
  }
  if (transfer_encodings > 0) {
    // Every Transfer-Encoding value, in order: the last coding must be chunked.
    std::string last;
    const auto [first, end] = header.equal_range(http::field::transfer_encoding);
    for (auto field = first; field != end; ++field) {
      for (const auto& coding : http::token_list(field->value())) last = std::string(coding);
    }
    if (!boost::beast::iequals(last, "chunked")) {
      return request_rejection{400, "Transfer-Encoding does not end in chunked"};
    }
  }
  return std::nullopt;
}

}  // namespace memgate::http1
