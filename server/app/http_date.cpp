#include "app/http_date.hpp"

#include <algorithm>
#include <chrono>

namespace memgate::app {
namespace {

constexpr std::string_view day_names = "SunMonTueWedThuFriSat";
constexpr std::string_view month_names = "JanFebMarAprMayJunJulAugSepOctNovDec";

char* put_two_digits(char* out, unsigned value) {
  out[0] = static_cast<char>('0' + value / 10 % 10);
  out[1] = static_cast<char>('0' + value % 10);
  return out + 2;
}

char* put_name(char* out, std::string_view names, unsigned index) {
  const auto name = names.substr(index * 3, 3);
  return std::copy(name.begin(), name.end(), out);
}

}  // namespace

void format_http_date(std::int64_t unix_seconds, std::span<char, http_date_bytes> out) {
  using namespace std::chrono;
  const sys_seconds time{seconds{unix_seconds}};
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  const auto year = static_cast<unsigned>(static_cast<int>(date.year()));

  char* at = put_name(out.data(), day_names, weekday{day}.c_encoding());
  *at++ = ',';
  *at++ = ' ';
  at = put_two_digits(at, static_cast<unsigned>(date.day()));
  *at++ = ' ';
  at = put_name(at, month_names, static_cast<unsigned>(date.month()) - 1);
  *at++ = ' ';
  at = put_two_digits(at, year / 100);
  at = put_two_digits(at, year);
  *at++ = ' ';
  at = put_two_digits(at, static_cast<unsigned>(clock.hours().count()));
  *at++ = ':';
  at = put_two_digits(at, static_cast<unsigned>(clock.minutes().count()));
  *at++ = ':';
  at = put_two_digits(at, static_cast<unsigned>(clock.seconds().count()));
  const std::string_view gmt = " GMT";
  std::copy(gmt.begin(), gmt.end(), at);
}

std::string_view http_date_cache::at(std::int64_t unix_seconds) {
  if (unix_seconds != second_) {
    format_http_date(unix_seconds, text_);
    second_ = unix_seconds;
    ++refreshes_;
  }
  return {text_.data(), text_.size()};
}

std::string_view http_date_now() {
  thread_local http_date_cache cache;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return cache.at(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

}  // namespace memgate::app
