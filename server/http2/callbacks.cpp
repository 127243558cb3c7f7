#include "http2/callbacks.hpp"

#include "http2/session.hpp"

namespace memgate::http2 {
namespace {

session& of(void* user_data) { return *static_cast<session*>(user_data); }

int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* header, void* user_data) {
  return of(user_data).on_begin_frame(*header);
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return of(user_data).on_begin_headers(frame->hd.stream_id);
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t name_length,
              const std::uint8_t* value, std::size_t value_length, std::uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return of(user_data).on_header(frame->hd.stream_id,
                                 {reinterpret_cast<const char*>(name), name_length},
                                 {reinterpret_cast<const char*>(value), value_length});
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return of(user_data).on_frame_recv(*frame);
}

int on_data_chunk_recv(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                       std::size_t length, void* user_data) {
  return of(user_data).on_data_chunk(stream_id, {data, length});
}

int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return of(user_data).on_frame_sent(*frame);
}

int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
  return of(user_data).on_stream_close(stream_id, error_code);
}

int send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* frame_header, std::size_t length,
              nghttp2_data_source*, void* user_data) {
  return of(user_data).send_body(*frame, frame_header, length);
}

ssize_t read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t*, std::size_t length, std::uint32_t* flags,
                  nghttp2_data_source*, void* user_data) {
  return of(user_data).read_body(stream_id, length, flags);
}

}  // namespace

nghttp2_session_callbacks* server_callbacks() {
  static nghttp2_session_callbacks* const callbacks = [] {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_data);
    return cbs;
  }();
  return callbacks;
}

nghttp2_data_provider body_provider() {
  nghttp2_data_provider provider{};
  provider.read_callback = read_body;
  return provider;
}

}  // namespace memgate::http2
