#pragma once
// nghttp2's memory (nghttp2_mem) from this thread's free lists (pool/free_lists.hpp). Each
// request makes nghttp2 allocate the same few small blocks (its stream, the HEADERS and DATA
// items, the copied response headers) and free them when the stream closes; they go back to
// the thread, not to the session, so a session in steady state allocates nothing per stream
// and an idle one holds no free block. Blocks past the lists' largest size come from malloc.
#include <nghttp2/nghttp2.h>

namespace memgate::http2 {

// For nghttp2_session_server_new3; the same for every session. Blocks carry their size, so any
// thread may free them.
nghttp2_mem* nghttp2_memory();

}  // namespace memgate::http2
