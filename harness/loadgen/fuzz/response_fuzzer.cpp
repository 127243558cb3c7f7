// libFuzzer target: the load generator against a hostile server's bytes.
//
// Input: one control byte, then what the server sends.
//   bit 0: 0 = HTTP/1.1: the bytes go through checking_parser (Beast's response parser set up
//          exactly as h1_connection does) into response_checker, pipelined: after each
//          complete response the next is parsed from the rest of the buffer, as
//          h1_connection::parse_buffered does; a body delimited by the close ends with put_eof.
//          1 = HTTP/2: the bytes (server SETTINGS first) go into the client nghttp2 session with
//          the load generator's own callbacks (h2_callbacks.cpp), three requests submitted.
//          Either way a malformed response is described as the report would (the malformed_*
//          seeds: CL+TE, a bad chunk size, an over-long header; a missing :status, a pseudo-
//          header after a regular field, an uppercase name, content-length against DATA).
//   bits 1-2: what the requests expect under --verify pattern (a status-only path, /bytes/100,
//          /stream/inf, POST /upload of 100 bytes); the status-only case runs three times, as
//          --verify status, as --verify length of 100 bytes and as --verify digest (every
//          response of the input held to the first 2xx one)
//   bits 3-7: how many bytes each put()/mem_recv() gets (0: all at once); for HTTP/2, bit 7
//          also resets each stream once body bytes arrived (--cancel-after-bytes)
#include "h1_connection.hpp"
#include "h2_connection.hpp"
#include "plan.hpp"
#include "response_check.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace memgate::loadgen;

body_expectation expectation(std::uint8_t control) {
  switch ((control >> 1) & 3) {
    case 1: return expectation_for("/bytes/100", false, 0);
    case 2: return expectation_for("/stream/inf", false, 0);
    case 3: return expectation_for("/upload", true, 100);
    default: return expectation_for("/healthz", false, 0);
  }
}

void fuzz_h1(const body_expectation& expect, std::string_view wire, std::size_t chunk) {
  response_checker checker;
  std::unique_ptr<checking_parser> parser;
  std::string buffer;  // what arrived and was not consumed yet, like h1_connection's read buffer
  std::size_t offset = 0;
  auto complete = [&] {
    (void)checker.body_bytes();
    (void)checker.finish();
    parser.reset();
  };
  while (offset < wire.size()) {
    const std::size_t n = std::min(chunk, wire.size() - offset);
    buffer.append(wire.substr(offset, n));
    offset += n;
    while (!buffer.empty()) {
      if (!parser) {
        checker.reset(expect);
        parser = std::make_unique<checking_parser>(checker);
      }
      boost::beast::error_code ec;
      const auto used = parser->put(boost::asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (ec && ec != boost::beast::http::error::need_more) {
        (void)malformed_h1_message(ec);
        (void)checker.abandon();
        return;
      }
      if (ec) break;  // need_more
      if (!parser->is_done()) continue;
      const bool keep_alive = parser->keep_alive();
      complete();
      if (!keep_alive) return;
    }
  }
  if (parser && parser->need_eof()) {
    boost::beast::error_code ec;
    parser->put_eof(ec);
    if (!ec && parser->is_done()) complete();
  }
}

struct h2_owner final : h2_session_owner {
  void on_stream_closed(h2_stream_slot& slot, std::uint32_t error_code) override {
    if (slot.cancelled) {
      (void)slot.checker.abandon();
    } else if (malformed_h2_message(slot)) {
      (void)slot.checker.abandon();
    } else if (error_code == NGHTTP2_NO_ERROR && slot.saw_status) {
      (void)slot.checker.finish();
    }
  }
  // As with --cancel-after-bytes=1: reset the stream once body bytes arrived.
  void on_body_frame(h2_stream_slot& slot, std::int32_t stream_id) override {
    if (!cancel_after_body || slot.cancelled || slot.checker.body_bytes() == 0) return;
    if (nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL) == 0) slot.cancelled = true;
  }
  void on_goaway() override { goaway = true; }

  nghttp2_session* session = nullptr;
  bool cancel_after_body = false;
  bool goaway = false;
};

nghttp2_nv make_nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

void fuzz_h2(std::uint8_t control, const body_expectation& expect, std::string_view wire, std::size_t chunk) {
  request_template req;
  req.post = expect.what == body_expectation::kind::upload;
  req.target = req.post ? "/upload" : "/bytes/100";
  req.body_bytes = req.post ? 100 : 0;
  req.expect = expect;
  req.h2_strings = {":method", req.post ? "POST" : "GET", ":scheme", "http", ":authority", "fuzz", ":path", req.target};
  for (std::size_t i = 0; i < req.h2_strings.size(); i += 2) {
    req.h2_headers.push_back(make_nv(req.h2_strings[i], req.h2_strings[i + 1]));
  }

  h2_owner owner;
  owner.cancel_after_body = (control & 0x80) != 0;
  std::unique_ptr<nghttp2_session, nghttp2_session_deleter> session(new_client_session(owner));
  if (!session) return;
  owner.session = session.get();
  nghttp2_submit_settings(session.get(), NGHTTP2_FLAG_NONE, nullptr, 0);

  std::array<h2_stream_slot, 3> slots;
  for (auto& slot : slots) {
    slot.reset_for(req);
    nghttp2_data_provider provider = upload_provider(slot);
    nghttp2_submit_request(session.get(), nullptr, req.h2_headers.data(), req.h2_headers.size(),
                           req.post ? &provider : nullptr, &slot);
  }
  auto send_all = [&] {
    const std::uint8_t* out = nullptr;
    for (int i = 0; i < 10'000 && nghttp2_session_mem_send(session.get(), &out) > 0; ++i) {
    }
  };
  send_all();
  for (std::size_t offset = 0; offset < wire.size();) {
    const std::size_t n = std::min(chunk, wire.size() - offset);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(wire.data()) + offset;
    offset += n;
    if (nghttp2_session_mem_recv(session.get(), bytes, n) < 0) break;
    send_all();
    if (!nghttp2_session_want_read(session.get()) && !nghttp2_session_want_write(session.get())) break;
  }
  // Before the slots go: the session holds pointers to them.
  session.reset();
}

void fuzz_one(std::uint8_t control, const body_expectation& expect, std::string_view wire, std::size_t chunk) {
  if (control & 1) {
    fuzz_h2(control, expect, wire, chunk);
  } else {
    fuzz_h1(expect, wire, chunk);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t chunk = (control >> 3) == 0 ? wire.size() + 1 : (control >> 3);
  const auto expect = expectation(control);
  fuzz_one(control, expect, wire, chunk);
  if (expect.what == body_expectation::kind::any) {
    fuzz_one(control, {body_expectation::kind::exact_length, 100, 0}, wire, chunk);
    digest_reference first_body;
    fuzz_one(control, {body_expectation::kind::digest, 0, 0, &first_body}, wire, chunk);
  }
  return 0;
}
