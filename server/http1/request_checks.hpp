#pragma once
// Request-framing checks Beast 1.81 leaves to the application: a request whose
// body length is ambiguous is the start of request smuggling, so it is refused
// before any body byte is read.
#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>

namespace memgate::http1 {

struct request_rejection {
  unsigned status;
  std::string reason;
};

std::optional<request_rejection> check_request_header(const boost::beast::http::request_header<>& header,
                                                      std::size_t max_header_fields);

}  // namespace memgate::http1
