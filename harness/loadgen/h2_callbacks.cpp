// Every nghttp2 callback of the client, registered in one function; each casts and delegates.
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "h2_connection.hpp"
#include "pattern.hpp"

namespace memgate::loadgen {
namespace {

h2_stream_slot* slot_of(nghttp2_session* session, std::int32_t stream_id) {
  return static_cast<h2_stream_slot*>(nghttp2_session_get_stream_user_data(session, stream_id));
}

int on_header(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
              const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_RESPONSE) return 0;
  auto* slot = slot_of(session, frame->hd.stream_id);
  if (!slot) return 0;
  const std::string_view field(reinterpret_cast<const char*>(name), namelen);
  const auto* v = reinterpret_cast<const char*>(value);
  if (field == ":status") {
    unsigned code = 0;
    std::from_chars(v, v + valuelen, code);
    slot->saw_status = true;
    slot->checker.on_status(code);
  } else if (field == "content-length") {  // nghttp2 has checked it is one decimal number
    std::uint64_t length = 0;
    std::from_chars(v, v + valuelen, length);
    slot->content_length = length;
  }
  return 0;
}

// nghttp2 refused a field block (a field it calls invalid, a pseudo-header out of place or
// missing): it resets the stream with PROTOCOL_ERROR, and the stream closes with that code.
int on_invalid_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, int lib_error_code, void*) {
  if (lib_error_code != NGHTTP2_ERR_HTTP_HEADER && lib_error_code != NGHTTP2_ERR_HTTP_MESSAGING) return 0;
  if (auto* slot = slot_of(session, frame->hd.stream_id); slot && !slot->refused) {
    slot->refused = nghttp2_strerror(lib_error_code);
  }
  return 0;
}

// nghttp2 resets a stream itself (PROTOCOL_ERROR) when the response breaks a message rule it
// checks without calling on_invalid_frame_recv: DATA beyond or short of its content-length.
int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  if (frame->hd.type != NGHTTP2_RST_STREAM || frame->rst_stream.error_code != NGHTTP2_PROTOCOL_ERROR) return 0;
  if (auto* slot = slot_of(session, frame->hd.stream_id); slot && !slot->cancelled && !slot->refused) {
    slot->refused = "the response broke a message rule (nghttp2 reset the stream with PROTOCOL_ERROR)";
  }
  return 0;
}

int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                  std::size_t len, void*) {
  if (auto* slot = slot_of(session, stream_id)) {
    slot->checker.on_body({reinterpret_cast<const char*>(data), len});
  }
  return 0;
}

int on_stream_close(nghttp2_session* session, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
  if (auto* slot = slot_of(session, stream_id)) {
    static_cast<h2_session_owner*>(user_data)->on_stream_closed(*slot, error_code);
  }
  return 0;
}

int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
  auto* owner = static_cast<h2_session_owner*>(user_data);
  if (frame->hd.type == NGHTTP2_GOAWAY) owner->on_goaway();
  // A frame that ends its stream completes the response: never cancel that one.
  if (frame->hd.type == NGHTTP2_DATA && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    if (auto* slot = slot_of(session, frame->hd.stream_id)) owner->on_body_frame(*slot, frame->hd.stream_id);
  }
  return 0;
}

ssize_t read_upload(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* data_flags,
                    nghttp2_data_source* source, void*) {
  auto* slot = static_cast<h2_stream_slot*>(source->ptr);
  const std::uint64_t left = slot->req->body_bytes - slot->upload_offset;
  std::size_t n = length < pattern_max_slice ? length : pattern_max_slice;
  if (left < n) n = static_cast<std::size_t>(left);
  std::memcpy(buf, pattern_slice(slot->upload_offset, n).data(), n);
  slot->upload_offset += n;
  if (slot->upload_offset == slot->req->body_bytes) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace

void h2_stream_slot::reset_for(const request_template& request) {
  req = &request;
  start = clock::now();
  upload_offset = 0;
  saw_status = false;
  cancelled = false;
  content_length.reset();
  refused = nullptr;
  checker.reset(request.expect);
}

std::optional<std::string> malformed_h2_message(const h2_stream_slot& slot) {
  if (!slot.refused) return std::nullopt;
  const std::string prefix = "malformed HTTP/2 response (RFC 9113 8.1.1): ";
  // nghttp2's reset for a length mismatch says less. A DATA frame past the length is
  // refused before it is delivered: what arrived tells only how far the stream got.
  const auto received = slot.checker.body_bytes();
  if (slot.content_length && *slot.content_length != received) {
    return prefix + "DATA that does not add up to content-length " + std::to_string(*slot.content_length) +
           " (the stream was reset after " + std::to_string(received) + " body bytes)";
  }
  return prefix + slot.refused;
}

nghttp2_data_provider upload_provider(h2_stream_slot& slot) {
  nghttp2_data_provider provider{};
  provider.source.ptr = &slot;
  provider.read_callback = read_upload;
  return provider;
}

nghttp2_session* new_client_session(h2_session_owner& owner) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return nullptr;
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session* session = nullptr;
  const int rv = nghttp2_session_client_new(&session, cbs, &owner);
  nghttp2_session_callbacks_del(cbs);
  return rv == 0 ? session : nullptr;
}

}  // namespace memgate::loadgen
