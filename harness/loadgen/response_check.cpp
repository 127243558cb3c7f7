#include "response_check.hpp"

#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "pattern.hpp"

namespace memgate::loadgen {

const char* failure_name(failure f) noexcept {
  switch (f) {
    case failure::status: return "status";
    case failure::length: return "length";
    case failure::body: return "body";
    case failure::upload_check: return "upload_check";
    case failure::connect: return "connect";
    case failure::reset: return "reset";
    case failure::timeout: return "timeout";
    case failure::protocol: return "protocol";
    case failure::tls: return "tls";
    case failure::digest: return "digest";
    case failure::malformed: return "malformed";
  }
  return "?";
}

body_expectation expectation_for(std::string_view target, bool post, std::uint64_t upload_bytes) {
  using kind = body_expectation::kind;
  const auto query = target.find('?');
  const std::string_view path = target.substr(0, query);
  if (post) {
    if (path == "/upload") return {kind::upload, upload_bytes, pattern_crc32(upload_bytes)};
    return {};
  }
  if (path == "/stream/inf") return {kind::endless, 0, 0};
  for (const std::string_view prefix : {std::string_view("/bytes/"), std::string_view("/stream/")}) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    const auto digits = path.substr(prefix.size());
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (!digits.empty() && ec == std::errc{} && p == digits.data() + digits.size()) return {kind::pattern, n, 0};
  }
  return {};
}

void response_checker::reset(const body_expectation& expect) noexcept {
  expect_ = expect;
  received_ = 0;
  status_ = 0;
  failed_.reset();
  hasher_.reset();
  json_.clear();
}

void response_checker::on_status(unsigned code) noexcept {
  status_ = code;
  if ((code < 200 || code > 299) && !failed_) failed_ = failure::status;
}

void response_checker::on_body(std::string_view piece) {
  const std::uint64_t offset = received_;
  received_ += piece.size();
  if (failed_) return;
  switch (expect_.what) {
    case body_expectation::kind::any:
      return;
    case body_expectation::kind::pattern:
      if (received_ > expect_.length) {
        failed_ = failure::length;
      } else if (!matches_pattern(offset, piece)) {
        failed_ = failure::body;
      }
      return;
    case body_expectation::kind::endless:
      if (!matches_pattern(offset, piece)) failed_ = failure::body;
      return;
    case body_expectation::kind::upload:
      if (json_.size() + piece.size() > max_json_bytes) {
        failed_ = failure::upload_check;
      } else {
        json_.append(piece);
      }
      return;
    case body_expectation::kind::exact_length:
      if (received_ > expect_.length) failed_ = failure::length;
      return;
    case body_expectation::kind::digest:
      hasher_.update(piece);
      return;
  }
}

std::optional<failure> response_checker::finish() {
  if (failed_) return failed_;
  switch (expect_.what) {
    case body_expectation::kind::any:
      return std::nullopt;
    case body_expectation::kind::pattern:
      if (received_ != expect_.length) return failure::length;
      return std::nullopt;
    case body_expectation::kind::endless:
      return failure::length;  // an endless body that ends was cut short
    case body_expectation::kind::upload:
      if (!upload_receipt_matches(json_, expect_.length, expect_.crc32)) return failure::upload_check;
      return std::nullopt;
    case body_expectation::kind::exact_length:
      if (received_ != expect_.length) return failure::length;
      return std::nullopt;
    case body_expectation::kind::digest:
      if (!expect_.reference->agrees(hasher_.digest())) return failure::digest;
      return std::nullopt;
  }
  return std::nullopt;
}

bool upload_receipt_matches(std::string_view json, std::uint64_t bytes, std::uint32_t crc32) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return false;
  const auto& obj = v.get_object();
  const auto* b = obj.if_contains("bytes");
  const auto* c = obj.if_contains("crc32");
  if (!b || !c) return false;
  const auto as_u64 = [](const boost::json::value& x, std::uint64_t& out) {
    if (x.is_uint64()) { out = x.get_uint64(); return true; }
    if (x.is_int64() && x.get_int64() >= 0) { out = static_cast<std::uint64_t>(x.get_int64()); return true; }
    return false;
  };
  std::uint64_t got_bytes = 0;
  std::uint64_t got_crc = 0;
  return as_u64(*b, got_bytes) && as_u64(*c, got_crc) && got_bytes == bytes && got_crc == crc32;
}

}  // namespace memgate::loadgen
