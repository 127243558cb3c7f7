#include "http1/request_checks.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <iterator>

namespace memgate::http1 {
namespace http = boost::beast::http;

std::optional<request_rejection> check_request_header(const http::request_header<>& header,
                                                      std::size_t max_header_fields) {
  const auto fields = static_cast<std::size_t>(std::distance(header.begin(), header.end()));
  if (fields > max_header_fields) {
    return request_rejection{431, std::to_string(fields) + " header fields exceed the limit of " +
                                      std::to_string(max_header_fields)};
  }
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
