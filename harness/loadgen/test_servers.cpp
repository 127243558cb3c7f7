// The three test servers stay in one file, a little past ~400 lines: they share the routes,
// the counters and the accept loop (server_base), and each protocol's part is short.
#include "test_servers.hpp"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/crc.hpp>
#include <nghttp2/nghttp2.h>

#include "pattern.hpp"

namespace memgate::loadgen::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Endless bodies flip this byte under ?corrupt.
constexpr std::uint64_t endless_corrupt_offset = 1000;

struct reply {
  unsigned status = 200;
  std::string body;
  bool chunked = false;
  bool close = false;
  bool endless = false;  // the pattern without end instead of `body`
  bool corrupt = false;  // endless: flip byte endless_corrupt_offset
};

// Shared by a server and its connections' threads.
struct server_counters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> open{0};
  std::atomic<std::uint64_t> goaways{0};
};

// `n` bytes of an endless body from `offset`, corrupted where the reply says.
void endless_bytes(const reply& r, std::uint64_t offset, std::uint8_t* out, std::size_t n) {
  std::memcpy(out, pattern_slice(offset, n).data(), n);
  if (r.corrupt && offset <= endless_corrupt_offset && endless_corrupt_offset < offset + n) {
    out[endless_corrupt_offset - offset] ^= 0x5a;
  }
}

// Letters, not the pattern: what a server that is not the refserver might send.
std::string text_bytes(std::uint64_t n, bool alternate) {
  std::string s(n, '\0');
  for (std::uint64_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  // Counted over every server of the test process: the tests run one server at a time.
  static std::atomic<std::uint64_t> alternate_responses{0};
  if (alternate && n > 0 && alternate_responses++ % 2 == 1) s[n / 2] = '!';
  return s;
}

std::string pattern_bytes(std::uint64_t n) {
  std::string s;
  s.reserve(n);
  for (std::uint64_t off = 0; off < n; off += pattern_max_slice) {
    s.append(pattern_slice(off, static_cast<std::size_t>(std::min<std::uint64_t>(n - off, pattern_max_slice))));
  }
  return s;
}

reply route(std::string_view method, std::string_view target, std::uint64_t body_len, std::uint32_t body_crc) {
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  const auto number_after = [&](std::string_view prefix, std::uint64_t& n) {
    if (path.substr(0, prefix.size()) != prefix) return false;
    const auto d = path.substr(prefix.size());
    return std::from_chars(d.data(), d.data() + d.size(), n).ec == std::errc{};
  };
  reply r;
  std::uint64_t n = 0;
  if (method == "POST" && path == "/upload") {
    const std::uint32_t crc = query == "badcrc" ? body_crc + 1 : body_crc;
    r.body = "{\"bytes\": " + std::to_string(body_len) + ", \"crc32\": " + std::to_string(crc) + "}";
  } else if (path == "/stream/inf") {
    r.endless = true;
    r.corrupt = query == "corrupt";
  } else if (number_after("/bytes/", n) || number_after("/stream/", n)) {
    r.body = pattern_bytes(query == "short" && n > 0 ? n - 1 : n);
    if (query == "corrupt" && !r.body.empty()) r.body[r.body.size() / 2] ^= 0x5a;
    r.chunked = path.substr(0, 8) == "/stream/";
  } else if (number_after("/text/", n)) {
    r.body = text_bytes(n, query == "alternate");
    r.chunked = query == "chunked";
  } else if (number_after("/status/", n)) {
    r.status = static_cast<unsigned>(n);
  } else if (path == "/close") {
    r.body = "bye";
    r.close = true;
  } else {
    r.status = 404;
  }
  return r;
}

// Accepts on an io_context thread; each connection is served by a blocking thread.
class server_base : public test_server {
 public:
  using serve_function = std::function<void(tcp::socket, server_counters&)>;

  explicit server_base(serve_function serve, std::chrono::milliseconds listen_after = {})
      : serve_(std::move(serve)), acceptor_(ioc_), listen_timer_(ioc_) {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    // Bound but not listening: the kernel refuses connects until listen().
    listen_timer_.expires_after(listen_after);
    listen_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      acceptor_.listen();
      do_accept();
    });
    io_thread_ = std::thread([this] { ioc_.run(); });
  }
  ~server_base() override {
    ioc_.stop();
    io_thread_.join();
    const std::lock_guard lock(mutex_);
    for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : threads_) t.join();
  }
  std::uint16_t port() const override { return acceptor_.local_endpoint().port(); }
  std::uint64_t connections_accepted() const override { return counters_.accepted.load(); }
  std::uint64_t connections_open() const override { return counters_.open.load(); }
  std::uint64_t goaways_received() const override { return counters_.goaways.load(); }

 private:
  void do_accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++counters_.accepted;
      ++counters_.open;
      s.set_option(tcp::no_delay(true), ec);
      const std::lock_guard lock(mutex_);
      fds_.push_back(s.native_handle());
      threads_.emplace_back([this, sock = std::move(s)]() mutable {
        serve_(std::move(sock), counters_);  // closes the socket
        --counters_.open;
      });
      do_accept();
    });
  }

  serve_function serve_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer listen_timer_;
  std::thread io_thread_;
  std::mutex mutex_;
  std::vector<int> fds_;  // shut down on destruction to unblock the serving threads
  std::vector<std::thread> threads_;
  server_counters counters_;
};

// Chunked pattern bytes until the client goes away.
template <class Stream>
void write_endless_h1(Stream& sock, const reply& r) {
  constexpr std::size_t chunk = 16 * 1024;
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::array<std::uint8_t, chunk> body{};
  boost::system::error_code ec;
  for (std::uint64_t offset = 0; !ec; offset += chunk) {
    endless_bytes(r, offset, body.data(), chunk);
    out += "4000\r\n";  // 16 KiB in hex
    out.append(reinterpret_cast<const char*>(body.data()), chunk);
    out += "\r\n";
    asio::write(sock, asio::buffer(out), ec);
    out.clear();
  }
}

template <class Stream>
void serve_h1(Stream& sock) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(sock, buffer, req, ec);
    if (ec) return;
    boost::crc_32_type crc;
    crc.process_bytes(req.body().data(), req.body().size());
    reply r = route(std::string_view(req.method_string()), std::string_view(req.target()), req.body().size(),
                    crc.checksum());
    if (r.endless) return write_endless_h1(sock, r);
    http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
    res.body() = std::move(r.body);
    res.keep_alive(req.keep_alive() && !r.close);
    if (r.chunked) {
      res.chunked(true);
    } else {
      res.prepare_payload();
    }
    http::write(sock, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

struct h2_stream {
  std::string method, path, body;
  reply endless;  // endless.endless: the body is the endless pattern
  std::uint64_t received = 0;
  boost::crc_32_type crc;
  std::size_t sent = 0;
  std::string status;
};

struct h2_conn {
  std::map<std::int32_t, h2_stream> streams;
  server_counters* counters;
};

ssize_t h2_read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len, std::uint32_t* flags,
                     nghttp2_data_source* src, void*) {
  auto* s = static_cast<h2_stream*>(src->ptr);
  if (s->endless.endless) {
    endless_bytes(s->endless, s->sent, buf, len);
    s->sent += len;
    return static_cast<ssize_t>(len);
  }
  const std::size_t n = std::min(len, s->body.size() - s->sent);
  std::memcpy(buf, s->body.data() + s->sent, n);
  s->sent += n;
  if (s->sent == s->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int h2_respond(nghttp2_session* session, std::int32_t id, h2_stream& s) {
  const reply r = route(s.method, s.path, s.received, s.crc.checksum());
  s.body = r.body;
  if (r.endless) s.endless = r;
  s.status = std::to_string(r.status);
  const std::string length = std::to_string(s.body.size());
  nghttp2_nv hdrs[] = {
      {(std::uint8_t*)":status", (std::uint8_t*)s.status.data(), 7, s.status.size(), NGHTTP2_NV_FLAG_NONE},
      {(std::uint8_t*)"content-length", (std::uint8_t*)length.data(), 14, length.size(), NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_data_provider dp{};
  dp.source.ptr = &s;
  dp.read_callback = h2_read_body;
  return nghttp2_submit_response(session, id, hdrs, r.endless ? 1 : 2, &dp);
}

template <class Stream>
void serve_h2(Stream& sock, server_counters& counters) {
  h2_conn conn{{}, &counters};
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* f, void* ud) {
        static_cast<h2_conn*>(ud)->streams[f->hd.stream_id];
        return 0;
      });
  nghttp2_session_callbacks_set_on_header_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nl, const std::uint8_t* v,
              std::size_t vl, std::uint8_t, void* ud) {
        auto& s = static_cast<h2_conn*>(ud)->streams[f->hd.stream_id];
        const std::string_view name(reinterpret_cast<const char*>(n), nl);
        const std::string value(reinterpret_cast<const char*>(v), vl);
        if (name == ":method") s.method = value;
        if (name == ":path") s.path = value;
        return 0;
      });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cbs, [](nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t len, void* ud) {
        auto& s = static_cast<h2_conn*>(ud)->streams[id];
        s.received += len;
        s.crc.process_bytes(d, len);
        return 0;
      });
  nghttp2_session_callbacks_set_on_frame_recv_callback(
      cbs, [](nghttp2_session* session, const nghttp2_frame* f, void* ud) {
        if (f->hd.type == NGHTTP2_GOAWAY) ++static_cast<h2_conn*>(ud)->counters->goaways;
        if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
          auto& s = static_cast<h2_conn*>(ud)->streams[f->hd.stream_id];
          return h2_respond(session, f->hd.stream_id, s);
        }
        return 0;
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      cbs, [](nghttp2_session*, std::int32_t id, std::uint32_t, void* ud) {
        static_cast<h2_conn*>(ud)->streams.erase(id);
        return 0;
      });
  nghttp2_session* session = nullptr;
  nghttp2_session_server_new(&session, cbs, &conn);
  nghttp2_session_callbacks_del(cbs);
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1);

  std::vector<std::uint8_t> out;
  std::array<std::uint8_t, 16384> in{};
  boost::system::error_code ec;
  while (nghttp2_session_want_read(session) || nghttp2_session_want_write(session)) {
    out.clear();
    const std::uint8_t* data = nullptr;
    ssize_t n = 0;
    // Bounded batches: an endless stream would otherwise fill the client's whole window here.
    while (out.size() < 64 * 1024 && (n = nghttp2_session_mem_send(session, &data)) > 0) {
      out.insert(out.end(), data, data + n);
    }
    if (n < 0) break;
    if (!out.empty()) asio::write(sock, asio::buffer(out), ec);
    if (ec) break;
    if (!nghttp2_session_want_read(session) && !nghttp2_session_want_write(session)) break;
    // While there is more to send (an endless stream), read only what has already arrived.
    if (nghttp2_session_want_write(session) && sock.lowest_layer().available(ec) == 0 && !ec) continue;
    const std::size_t got = sock.read_some(asio::buffer(in), ec);
    if (ec) break;
    if (nghttp2_session_mem_recv(session, in.data(), got) < 0) break;
  }
  nghttp2_session_del(session);
}


// A throwaway self-signed P-256 certificate for CN=localhost.
void use_self_signed_certificate(SSL_CTX* ctx) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
  const auto* wanted = static_cast<const std::string*>(arg);  // e.g. "h2"
  for (unsigned i = 0; i < inlen;) {
    const unsigned len = in[i];
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == *wanted) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

class tls_server final : public test_server {
 public:
  tls_server(std::string alpn, bool h2) : alpn_(std::move(alpn)), ctx_(asio::ssl::context::tls_server) {
    use_self_signed_certificate(ctx_.native_handle());
    SSL_CTX_set_alpn_select_cb(ctx_.native_handle(), select_alpn, &alpn_);
    inner_ = std::make_unique<server_base>([this, h2](tcp::socket s, server_counters& counters) {
      asio::ssl::stream<tcp::socket> tls(std::move(s), ctx_);
      boost::system::error_code ec;
      tls.handshake(asio::ssl::stream_base::server, ec);
      if (ec) return;
      if (h2) {
        serve_h2(tls, counters);
      } else {
        serve_h1(tls);
      }
      tls.next_layer().shutdown(tcp::socket::shutdown_send, ec);
    });
  }
  std::uint16_t port() const override { return inner_->port(); }
  std::uint64_t connections_accepted() const override { return inner_->connections_accepted(); }
  std::uint64_t connections_open() const override { return inner_->connections_open(); }
  std::uint64_t goaways_received() const override { return inner_->goaways_received(); }

 private:
  std::string alpn_;
  asio::ssl::context ctx_;
  std::unique_ptr<server_base> inner_;  // last: its threads stop before ctx_ goes
};

void serve_plain(tcp::socket s, server_counters& counters, bool h2) {
  if (h2) {
    serve_h2(s, counters);
  } else {
    serve_h1(s);
  }
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

std::unique_ptr<test_server> start_h1_server(std::chrono::milliseconds listen_after) {
  return std::make_unique<server_base>(
      [](tcp::socket s, server_counters& counters) { serve_plain(std::move(s), counters, false); }, listen_after);
}
std::unique_ptr<test_server> start_h2c_server() {
  return std::make_unique<server_base>(
      [](tcp::socket s, server_counters& counters) { serve_plain(std::move(s), counters, true); });
}
std::unique_ptr<test_server> start_tls_server(const std::string& alpn) {
  return std::make_unique<tls_server>(alpn, alpn == "h2");
}

}  // namespace memgate::loadgen::testing
