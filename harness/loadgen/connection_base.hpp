// What an h1 and an h2 client connection share, whatever their protocol: the connect, the TLS
// handshake with SNI and the ALPN check, request tickets and their --rate pacing, --hold,
// paced reads, write completion and the two ways to end (finish, abort).
//
// A CRTP base: Derived (h1_connection, h2_connection) supplies only its protocol, through
// these members (private, with this base a friend):
//   bool accepts_alpn(std::string_view selected)   TLS only: may the connection go on?
//   void on_open()                                 the connection is up: start the protocol
//   bool has_room() const                          may one more request start now?
//   void issue(std::uint64_t seq)                  start the request for this ticket now
//   void do_write()                                take tickets, write what is queued; called
//                                                  again after each write and paced ticket
//   void on_read(error_code, std::size_t)          bytes read into read_space()
//   static constexpr std::size_t max_read_bytes;   and
//   boost::asio::mutable_buffer read_space(std::size_t limit)
//   template <class Record> void drop_in_flight(Record record)
//                                                  record(body bytes so far) per request in
//                                                  flight, then forget them all
//   void cancel_protocol_timers()                  optional: timers of its own to stop
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>

#include "connection.hpp"
#include "plan.hpp"
#include "read_pacer.hpp"
#include "response_check.hpp"
#include "transport.hpp"
#include "worker.hpp"

namespace memgate::loadgen {

template <class Derived, class Stream>
class connection_base : public connection, public std::enable_shared_from_this<Derived> {
 public:
  void start() final {
    worker_.connect(socket_of(stream_), [self = self()](boost::beast::error_code ec) { self->on_connect(ec); });
  }

  void abort(failure reason) final {
    if (done_) return;
    fail_requests([this, reason](std::uint64_t) { worker_.record_failure(reason); });
    done_ = true;
    boost::beast::error_code ignored;
    socket_of(stream_).close(ignored);
    cancel_timers();
  }

 protected:
  connection_base(worker& w, std::size_t slot)
      : worker_(w),
        slot_(slot),
        stream_(make_stream<Stream>(w.ioc(), w.tls())),
        pacer_(w.ioc(), w.the_plan().opts().read_rate_bytes_per_s),
        rate_timer_(w.ioc()) {}

  std::shared_ptr<Derived> self() { return this->shared_from_this(); }
  const options& opts() const noexcept { return worker_.the_plan().opts(); }

  // Takes tickets while the protocol has room and the per-connection quota allows: each due
  // ticket is issued at once; the first one not yet due waits on the rate timer.
  void take_tickets() {
    const auto quota = opts().requests_per_connection;
    while (derived().has_room() && !no_more_ && !waiting_) {
      if (quota != 0 && issued_ >= quota) {
        no_more_ = true;
        break;
      }
      const auto ticket = worker_.acquire_ticket(slot_);
      if (!ticket) {
        no_more_ = true;
        break;
      }
      ++issued_;
      if (ticket->due > clock::now()) {
        waiting_ = ticket;
        rate_timer_.expires_at(ticket->due);
        rate_timer_.async_wait(boost::beast::bind_front_handler(&connection_base::on_rate, self()));
        break;
      }
      derived().issue(ticket->seq);
    }
  }

  // --hold keeps a connection that served a request open and idle until the worker releases
  // it; one that served nothing has no request to hold.
  bool may_hold() const noexcept { return opts().hold && issued_ > 0; }
  void mark_held() {
    held_ = true;
    worker_.connection_held(slot_);
  }

  void do_read() {
    pacer_.next(Derived::max_read_bytes, [self = self()](std::size_t limit) {
      self->stream_.async_read_some(self->read_space(limit), boost::beast::bind_front_handler(&Derived::on_read, self));
    });
  }

  // One write in flight at a time: the protocol's do_write() runs again once it completed.
  template <class Buffers>
  void start_write(const Buffers& buffers) {
    writing_ = true;
    boost::asio::async_write(stream_, buffers, boost::beast::bind_front_handler(&connection_base::on_write, self()));
  }

  // The connection ended with requests outstanding: they (and a paced ticket) fail with `reason`.
  void fail_all(failure reason) {
    if (done_) return;
    fail_requests([this, reason](std::uint64_t body_bytes) { worker_.record_failure(reason, body_bytes); });
    finish();
  }

  // Fails the request that a ticket would have been (the connection never got to send it) and ends.
  void fail_to_open(failure reason) {
    worker_.fail_one(slot_, reason);
    finish();
  }

  void finish() {
    if (done_) return;
    done_ = true;
    boost::beast::error_code ignored;
    socket_of(stream_).shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_of(stream_).close(ignored);
    cancel_timers();
    worker_.connection_done(slot_);
  }

  // The default for a protocol without timers of its own; Derived hides it.
  void cancel_protocol_timers() {}

  worker& worker_;
  const std::size_t slot_;
  Stream stream_;
  read_pacer pacer_;
  std::optional<run_control::ticket> waiting_;  // taken, not yet due: the rate timer runs
  std::uint64_t issued_ = 0;
  bool no_more_ = false;  // no tickets left for this connection
  bool writing_ = false;
  bool held_ = false;
  bool done_ = false;

 private:
  Derived& derived() noexcept { return static_cast<Derived&>(*this); }

  void on_connect(boost::beast::error_code ec) {
    if (done_) return;
    if (ec) return fail_to_open(failure::connect);
    socket_of(stream_).set_option(boost::asio::ip::tcp::no_delay(true), ec);  // best effort
    if constexpr (is_tls_v<Stream>) {
      set_server_name(stream_, opts().urls.front().host);
      stream_.async_handshake(boost::asio::ssl::stream_base::client,
                              boost::beast::bind_front_handler(&connection_base::on_handshake, self()));
    } else {
      on_handshake({});
    }
  }

  void on_handshake(boost::beast::error_code ec) {
    if (done_) return;
    if (ec) return fail_to_open(failure::tls);
    if constexpr (is_tls_v<Stream>) {
      if (!derived().accepts_alpn(alpn_selected(stream_))) return fail_to_open(failure::tls);
    }
    ++worker_.mutable_stats().connections_opened;
    derived().on_open();
  }

  void on_rate(boost::beast::error_code ec) {
    if (done_ || ec) return;  // cancelled only when the connection ends; its ticket was counted then
    const auto seq = waiting_->seq;
    waiting_.reset();
    derived().issue(seq);
    derived().do_write();
  }

  void on_write(boost::beast::error_code ec, std::size_t bytes) {
    writing_ = false;
    if (done_) return;
    worker_.mutable_stats().bytes_sent += bytes;
    if (ec) return fail_all(failure::reset);
    derived().do_write();
  }

  template <class Record>
  void fail_requests(Record record) {
    derived().drop_in_flight(record);
    if (waiting_) {
      record(0);
      waiting_.reset();
    }
  }

  void cancel_timers() {
    rate_timer_.cancel();
    derived().cancel_protocol_timers();
    pacer_.cancel();
  }

  boost::asio::steady_timer rate_timer_;
};

}  // namespace memgate::loadgen
