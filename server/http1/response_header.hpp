#pragma once
// A response's status line and header fields. A connection answers the same kind of request
// again and again (the same status, type, length and persistence), so the block is built
// once per kind and then only its Date is rewritten in place. It keeps its capacity across
// responses: building it allocates nothing in steady state. The bytes stay here, unchanged,
// until the write that views them completes (the session builds the next one only after).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memgate::http1 {

// How the client finds the body's end.
enum class body_framing { content_length, chunked, close_delimited };

struct response_head {
  unsigned status = 200;
  std::string_view content_type;  // a literal (app::response's), so it outlives the cache
  unsigned version = 11;           // the request's: the response answers in it
  bool keep_alive = true;
  body_framing framing = body_framing::content_length;
  std::uint64_t content_length = 0;  // with body_framing::content_length

  bool operator==(const response_head&) const = default;
};

class response_header {
 public:
  // The block for `head`, carrying the current Date; valid until the next build().
  std::string_view build(const response_head& head);
  std::string_view bytes() const { return text_; }

 private:
  void format(const response_head& head);
  void fit_capacity();

  std::string text_;
  std::optional<response_head> formatted_;  // what text_ was formatted for
  std::size_t date_at_ = 0;                 // where the Date value starts in text_
};

}  // namespace memgate::http1
