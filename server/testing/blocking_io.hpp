#pragma once
// Blocking socket calls for tests and fuzz targets that a signal cannot break: libFuzzer's
// -timeout alarm (and any other signal without SA_RESTART) makes a blocking call fail with
// EINTR, which is no failure of the code under test. Each call here retries it; any other
// error is reported through the error_code, or thrown by the helpers that have no error_code.
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>

namespace memgate::testing {

// Connects through the io_context's reactor, which retries an interrupted wait itself
// (a blocking connect interrupted by a signal cannot simply be called again).
boost::asio::ip::tcp::socket connect_loopback(boost::asio::io_context& io, std::uint16_t port);
void connect(boost::asio::ip::tcp::socket& socket, const boost::asio::ip::tcp::endpoint& to);

boost::asio::ip::tcp::socket accept(boost::asio::ip::tcp::acceptor& acceptor, boost::system::error_code& ec);
std::size_t read_some(boost::asio::ip::tcp::socket& socket, boost::asio::mutable_buffer into,
                      boost::system::error_code& ec);
// Reads until `into` is full; fewer bytes on an error.
std::size_t read_exactly(boost::asio::ip::tcp::socket& socket, boost::asio::mutable_buffer into,
                         boost::system::error_code& ec);
// Writes all of `bytes`; fewer on an error (a server may answer and close before taking it all).
std::size_t write_all(boost::asio::ip::tcp::socket& socket, boost::asio::const_buffer bytes,
                      boost::system::error_code& ec);
// True when `socket` has something to read (or its peer closed) within `timeout`.
bool wait_readable(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds timeout);

}  // namespace memgate::testing
