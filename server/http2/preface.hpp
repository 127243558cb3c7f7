#pragma once
#include <string_view>

namespace memgate::http2 {

// What an h2c client with prior knowledge sends first (RFC 9113, 3.4).
constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class preface_match { no, partial, full };

constexpr preface_match match_preface(std::string_view received) {
  const std::size_t n = std::min(received.size(), client_preface.size());
  if (received.substr(0, n) != client_preface.substr(0, n)) return preface_match::no;
  return n == client_preface.size() ? preface_match::full : preface_match::partial;
}

}  // namespace memgate::http2
