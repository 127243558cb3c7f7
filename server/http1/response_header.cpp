#include "http1/response_header.hpp"

#include "app/http_date.hpp"

#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <charconv>
#include <ostream>  // Beast 1.81's status.hpp streams a status without including it

namespace memgate::http1 {
namespace {

void append_number(std::string& text, std::uint64_t value) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  text.append(digits, end);
}

void append_field(std::string& text, std::string_view name, std::string_view value) {
  text.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

std::string_view response_header::build(const response_head& head) {
  if (formatted_ != head) format(head);
  const auto date = app::http_date_now();
  std::copy(date.begin(), date.end(), text_.begin() + static_cast<std::ptrdiff_t>(date_at_));
  return text_;
}

// The fields in the order Beast's serializer wrote them, and its persistence rules: HTTP/1.1
// persists unless told to close, HTTP/1.0 closes unless told to keep alive.
void response_header::format(const response_head& head) {
  text_.clear();
  text_.append("HTTP/");
  append_number(text_, head.version / 10);
  text_.push_back('.');
  append_number(text_, head.version % 10);
  text_.push_back(' ');
  append_number(text_, head.status);
  text_.push_back(' ');
  const auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(head.status));
  text_.append(reason.data(), reason.size()).append("\r\n");
  append_field(text_, "Server", "memgate-refserver");
  text_.append("Date: ");
  date_at_ = text_.size();
  text_.append(app::http_date_bytes, ' ').append("\r\n");
  append_field(text_, "Content-Type", head.content_type);
  if (head.version < 11 && head.keep_alive) append_field(text_, "Connection", "keep-alive");
  if (head.version >= 11 && !head.keep_alive) append_field(text_, "Connection", "close");
  switch (head.framing) {
    case body_framing::content_length:
      text_.append("Content-Length: ");
      append_number(text_, head.content_length);
      text_.append("\r\n");
      break;
    case body_framing::chunked:
      append_field(text_, "Transfer-Encoding", "chunked");
      break;
    case body_framing::close_delimited:
      break;
  }
  text_.append("\r\n");
  fit_capacity();
  formatted_ = head;
}

// A string grown by appends doubles its capacity: a 150-byte block held 240 by every
// keep-alive connection. Kept near its size instead, with room for the few bytes by which
// another kind of response's block is longer (a longer length, Connection: close).
void response_header::fit_capacity() {
  constexpr std::size_t room = 32;
  if (text_.capacity() <= text_.size() + room) return;
  std::string fitted;
  fitted.reserve(text_.size() + room);
  fitted = text_;
  text_.swap(fitted);
}

}  // namespace memgate::http1
