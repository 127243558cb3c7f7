#pragma once
// Raw HTTP/2 frames for tests that send what a client library never would (streams
// past the server's limit, floods) and read what the server wrote, frame by frame.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memgate::testing {

struct h2_frame {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint32_t stream_id = 0;
  std::string payload;

  std::uint32_t error_code() const;  // RST_STREAM and GOAWAY
  std::uint32_t setting(std::uint16_t id) const;  // a SETTINGS entry, 0 when absent
};

std::string h2_serialize(std::uint8_t type, std::uint8_t flags, std::uint32_t stream_id, std::string_view payload = {});
// The client magic, then an empty SETTINGS frame.
std::string h2_client_preface();
// A request's header block, in HPACK that leaves the dynamic table alone.
std::string h2_request_block(std::string_view method, std::string_view path);
// The whole frames in `bytes`.
std::vector<h2_frame> h2_parse(std::string_view bytes);

}  // namespace memgate::testing
