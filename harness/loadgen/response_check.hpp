// Incremental validation of one response: status, then body pieces as they arrive.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "body_digest.hpp"

namespace memgate::loadgen {

// malformed: the response broke its protocol's message rules (RFC 9112, RFC 9113 8.1.1);
// protocol: any other protocol failure (bytes nobody asked for, a connection error).
enum class failure : unsigned char {
  status, length, body, upload_check, connect, reset, timeout, protocol, tls, digest, malformed,
};
inline constexpr std::size_t failure_kinds = 11;
const char* failure_name(failure f) noexcept;

// What a request expects of its response body, derived once per URL. Every kind wants a 2xx
// status; `any` wants nothing more.
struct body_expectation {
  enum class kind : unsigned char { any, pattern, endless, upload, exact_length, digest } what = kind::any;
  std::uint64_t length = 0;  // pattern, exact_length: body length; upload: uploaded bytes; else unused
  std::uint32_t crc32 = 0;   // upload: CRC-32 of the uploaded pattern
  digest_reference* reference = nullptr;  // digest: the URL's, shared by every checker
};

// --verify pattern, the refserver's routes: /bytes/N and /stream/N (any query may follow)
// expect N pattern bytes; GET /stream/inf expects pattern bytes without end; POST /upload
// expects the JSON receipt of the upload; everything else is only status-checked.
body_expectation expectation_for(std::string_view target, bool post, std::uint64_t upload_bytes);

class response_checker {
 public:
  static constexpr std::size_t max_json_bytes = 4096;

  void reset(const body_expectation& expect) noexcept;

  // Status line or :status; non-2xx marks the response failed ("status").
  void on_status(unsigned code) noexcept;
  void on_body(std::string_view piece);
  // The verdict once the body is complete: nullopt when the response is OK.
  std::optional<failure> finish();
  // The verdict of a response abandoned early (--cancel-after-bytes): only the bytes that
  // arrived are judged, so a body shorter than expected is no failure here; a digest needs
  // the whole body, so an abandoned one is judged by its status alone.
  std::optional<failure> abandon() const noexcept { return failed_; }

  std::uint64_t body_bytes() const noexcept { return received_; }
  unsigned status() const noexcept { return status_; }  // 0 until on_status

 private:
  body_expectation expect_;
  std::uint64_t received_ = 0;
  unsigned status_ = 0;
  std::optional<failure> failed_;
  body_hasher hasher_;  // digest only
  std::string json_;  // upload receipt; capacity reused across responses
};

// Checks an upload receipt {"bytes": n, "crc32": c}; exposed for tests.
bool upload_receipt_matches(std::string_view json, std::uint64_t bytes, std::uint32_t crc32);

}  // namespace memgate::loadgen
