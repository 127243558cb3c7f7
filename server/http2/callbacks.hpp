#pragma once
#include <nghttp2/nghttp2.h>

namespace memgate::http2 {

// Every nghttp2 callback the server uses, registered in one place; each one
// casts user_data to the session and delegates.
nghttp2_session_callbacks* server_callbacks();

// Reads a response body for nghttp2 (NO_COPY: send_body does the writing).
nghttp2_data_provider body_provider();

}  // namespace memgate::http2
