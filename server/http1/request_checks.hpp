#pragma once
// Request checks Beast 1.81 leaves to the application: a request whose body length is
// ambiguous is the start of request smuggling, so it is refused before any body byte is
// read; a request without exactly one valid Host is refused (RFC 9112 3.2); obs-fold, which
// Beast folds into the value, is refused (RFC 9112 5.2 allows either).
#include "http1/field_arena.hpp"

#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace memgate::http1 {

// A parsed request header, its fields in the request's field_arena.
using request_head = boost::beast::http::request_header<boost::beast::http::basic_fields<field_allocator<char>>>;

struct request_rejection {
  unsigned status;
  std::string reason;
};

// The request target as the router reads it: an absolute-form target (RFC 9112 3.2.2,
// "http://host/path?q") becomes its path and query.
std::string_view origin_form(std::string_view target);

// Expect: 100-continue in an HTTP/1.1 request: the client waits for 100 Continue (or a
// final status) before it sends the body.
bool expects_continue(const request_head& header);

// A Host value as RFC 9110 7.2 has it: uri-host [ ":" port ], or empty.
bool valid_host(std::string_view host);

// A field line in the header section as it arrived that continues the line before it
// (obs-fold): Beast's parsed fields no longer show it.
bool has_obs_fold(std::string_view raw_header);

// Framing and Host checks, and the field limit.
std::optional<request_rejection> check_request_header(const request_head& header,
                                                      std::size_t max_header_fields);

}  // namespace memgate::http1
