#include "testing/h2_frames.hpp"

#include <nghttp2/nghttp2.h>

namespace memgate::testing {
namespace {

constexpr std::size_t frame_header_bytes = 9;

std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<std::uint8_t>(bytes[at + i]);
  return value;
}

// A literal field without indexing (RFC 7541 6.2.2) whose name is static table entry `name_index`.
std::string literal(std::uint8_t name_index, std::string_view value) {
  std::string field{static_cast<char>(name_index), static_cast<char>(value.size())};  // values under 127 bytes
  return field.append(value);
}

}  // namespace

std::uint32_t h2_frame::error_code() const {
  const std::size_t at = type == NGHTTP2_GOAWAY ? 4 : 0;
  return payload.size() >= at + 4 ? read_u32(payload, at) : 0;
}

std::uint32_t h2_frame::setting(std::uint16_t id) const {
  for (std::size_t at = 0; at + 6 <= payload.size(); at += 6) {
    const auto entry = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[at]) << 8) |
                                                  static_cast<std::uint8_t>(payload[at + 1]));
    if (entry == id) return read_u32(payload, at + 2);
  }
  return 0;
}

std::string h2_serialize(std::uint8_t type, std::uint8_t flags, std::uint32_t stream_id, std::string_view payload) {
  std::string frame;
  for (int shift : {16, 8, 0}) frame.push_back(static_cast<char>(payload.size() >> shift));
  frame.push_back(static_cast<char>(type));
  frame.push_back(static_cast<char>(flags));
  for (int shift : {24, 16, 8, 0}) frame.push_back(static_cast<char>(stream_id >> shift));
  return frame.append(payload);
}

std::string h2_client_preface() {
  return std::string(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN) + h2_serialize(NGHTTP2_SETTINGS, 0, 0);
}

std::string h2_request_block(std::string_view method, std::string_view path) {
  // Static table: 2 is ":method: GET", 3 ":method: POST", 6 ":scheme: http", 4 ":path", 1 ":authority".
  std::string block{static_cast<char>(method == "POST" ? 0x83 : 0x82), static_cast<char>(0x86)};
  return block + literal(4, path) + literal(1, "test");
}

std::vector<h2_frame> h2_parse(std::string_view bytes) {
  std::vector<h2_frame> frames;
  for (std::size_t at = 0; at + frame_header_bytes <= bytes.size();) {
    const std::size_t length = (static_cast<std::size_t>(static_cast<std::uint8_t>(bytes[at])) << 16) |
                               (static_cast<std::size_t>(static_cast<std::uint8_t>(bytes[at + 1])) << 8) |
                               static_cast<std::uint8_t>(bytes[at + 2]);
    if (at + frame_header_bytes + length > bytes.size()) break;
    frames.push_back({static_cast<std::uint8_t>(bytes[at + 3]), static_cast<std::uint8_t>(bytes[at + 4]),
                      read_u32(bytes, at + 5) & 0x7fffffffu,
                      std::string(bytes.substr(at + frame_header_bytes, length))});
    at += frame_header_bytes + length;
  }
  return frames;
}

}  // namespace memgate::testing
