#pragma once
// The Date field every response carries (RFC 9110 6.6.1), as IMF-fixdate (RFC 9110 5.6.7):
// "Sun, 06 Nov 1994 08:49:37 GMT". The text changes once a second, so each thread keeps the
// current second's text and formats it anew only when the second changes: no calendar
// arithmetic and no allocation per response. A connection lives on the thread that accepted
// it (transport/worker_pool.hpp), so a per-thread copy needs no lock.
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

namespace memgate::app {

constexpr std::size_t http_date_bytes = 29;

// `unix_seconds` (UTC) as IMF-fixdate, exactly http_date_bytes characters.
void format_http_date(std::int64_t unix_seconds, std::span<char, http_date_bytes> out);

// One second's text at a time.
class http_date_cache {
 public:
  // Valid until a call with another second.
  std::string_view at(std::int64_t unix_seconds);
  // How often the text was formatted: once per distinct second asked for in a row.
  std::uint64_t refreshes() const { return refreshes_; }

 private:
  std::int64_t second_ = std::numeric_limits<std::int64_t>::min();
  std::uint64_t refreshes_ = 0;
  std::array<char, http_date_bytes> text_{};
};

// The current time from this thread's cache; valid until this thread asks again in a later second.
std::string_view http_date_now();

}  // namespace memgate::app
