#pragma once
#include <string_view>

namespace memgate::http2 {

// What an h2c client with prior knowledge sends first (RFC 9113, 3.4).
constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// No HTTP/1.1 request starts with this line: a client that sends it speaks HTTP/2, and a
// preface broken after it is an HTTP/2 connection error (GOAWAY PROTOCOL_ERROR), not a
// request for the HTTP/1.1 parser.
constexpr std::string_view client_preface_request_line = "PRI * HTTP/2.0\r\n";

enum class preface_match { no, partial, full };

// `full` once the bytes are the whole preface's length and start with its request line;
// the session then judges the rest.
constexpr preface_match match_preface(std::string_view received) {
  const std::string_view line = client_preface_request_line;
  const std::size_t n = std::min(received.size(), line.size());
  if (received.substr(0, n) != line.substr(0, n)) return preface_match::no;
  return received.size() >= client_preface.size() ? preface_match::full : preface_match::partial;
}

}  // namespace memgate::http2
